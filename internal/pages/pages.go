// Package pages holds what healthd does about its own executable's pages in
// memory.
//
// The kernel maps a file-backed page together with its neighbours (64 KB at
// a time on this kind of machine), and start-up touches code all over the
// binary: every package's init, the config loader, each check's first
// connection. Those pages stay counted in the resident size for the life of
// the process although steady serving never reads most of them again (about
// 5 MB of healthd's 34 MB binary, measured by `make bench`). Release drops
// them once, after the first results are in; what the process still uses is
// mapped back from the page cache by the next access, a minor fault.
package pages

// Released reports what one Release did.
type Released struct {
	Mappings int   // read-only mappings of the executable that were dropped
	Bytes    int64 // their total size (what was resident of it was less)
	Skipped  int   // mappings left alone because they hold private (copied-on-write) pages
}
