// Package pages holds what healthd does about its own executable's pages in
// memory.
//
// Start-up touches code all over the binary: every package's init, the
// config loader, each check's first connection. The kernel maps a file page
// together with its cached neighbours (64 KB at a time on this kind of
// machine) and reads ahead around each fault, so those touches leave most
// of the 34 MB binary resident for the life of the process, although steady
// serving reads about 7 MB of it. Release, called once after the first
// results are in, drops them; afterwards the process maps back, one page at
// a time, only what it reads (`make bench`: 11.5 MB of file-backed pages
// under load instead of 22.7 MB).
package pages

// Released reports what one Release did.
type Released struct {
	Mappings int   // read-only mappings of the executable that were dropped
	Bytes    int64 // their total size (what was resident of it was less)
	Skipped  int   // mappings left alone because they hold private (copied-on-write) pages
	Evicted  bool  // the executable's unmapped pages were dropped from the page cache
}

// Mapping is one mapping of an executable file into a process.
type Mapping struct {
	Start, End uintptr
	Perms      string // as in /proc/<pid>/maps: "r-xp", "rw-p"
	Rss        int64  // bytes resident
	Referenced int64  // bytes accessed since the accessed bits were last cleared
	Anonymous  int64  // bytes of private (copied-on-write) pages
}
