package pages

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Release drops this process's mappings of the clean, read-only pages of its
// own executable (code, read-only data and the runtime's function tables),
// marks those mappings for random access, and drops the executable's pages
// that no process maps any more from the page cache.
//
// The kernel maps the cached neighbours of a faulting file page with it
// (64 KB at a time here), and readahead fills the cache around each fault;
// with both, what start-up touched would soon be mapped again. After
// Release a fault reads just its page, and the cache holds only what is
// used, so the resident size follows what the process reads.
//
// Only mappings that are private, not writable and hold no anonymous
// (copied-on-write) pages are touched: for those, MADV_DONTNEED loses
// nothing, because every page reads back identical from the file. A
// relocated read-only segment (a PIE build's RELRO) holds anonymous pages
// and is skipped, as is every writable mapping, whose data would be lost.
func Release() (Released, error) {
	exe, maps, err := Executable("self")
	if err != nil {
		return Released{}, fmt.Errorf("release pages: %w", err)
	}
	drop, skipped := plan(maps)
	r := Released{Skipped: skipped}
	for _, m := range drop {
		// MADV_RANDOM first: a later fault then reads the one page it
		// needs instead of a readahead window around it.
		for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_DONTNEED} {
			if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.Start, m.End-m.Start, advice); errno != 0 {
				return r, fmt.Errorf("release pages: madvise %x-%x: %w", m.Start, m.End, errno)
			}
		}
		r.Mappings++
		r.Bytes += int64(m.End - m.Start)
	}
	if r.Mappings == 0 {
		return r, nil
	}
	// Drop the executable's pages that no process maps any more from the
	// page cache too. The kernel's fault-around maps the cached neighbours
	// of a faulting page; with the cache holding only what is read again,
	// it maps little beyond that.
	f, err := os.Open(exe)
	if err != nil {
		return r, fmt.Errorf("release pages: %w", err)
	}
	defer f.Close()
	// Dirty pages are not dropped: a binary written moments ago (a fresh
	// build) is flushed first. An installed one is clean and this costs
	// nothing; where a file system refuses (read-only), the pages are clean
	// anyway, so the error is of no consequence.
	_ = unix.Fdatasync(int(f.Fd()))
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return r, fmt.Errorf("release pages: fadvise %s: %w", exe, err)
	}
	r.Evicted = true
	return r, nil
}

// plan picks the mappings Release drops: private and not writable (a
// writable mapping's data would be lost, a shared one is not this
// process's), and holding no copied-on-write page; skipped counts the
// read-only private ones passed over for such pages.
func plan(maps []Mapping) (drop []Mapping, skipped int) {
	for _, m := range maps {
		switch {
		case m.Perms[1] == 'w' || m.Perms[3] != 'p':
		case m.Anonymous > 0:
			skipped++
		default:
			drop = append(drop, m)
		}
	}
	return drop, skipped
}

// Executable returns the path of process pid's executable ("self": this
// process) and its mappings of that file, read from /proc/<pid>/smaps. An
// executable replaced on disk (its path ends in " (deleted)") has none.
func Executable(pid string) (string, []Mapping, error) {
	exe, err := os.Readlink("/proc/" + pid + "/exe")
	if err != nil {
		return "", nil, err
	}
	if strings.HasSuffix(exe, " (deleted)") {
		return exe, nil, nil // replaced on disk: its pages cannot be read back from the path
	}
	f, err := os.Open("/proc/" + pid + "/smaps")
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	maps, err := readMappings(f, exe)
	if err != nil {
		return "", nil, fmt.Errorf("/proc/%s/smaps: %w", pid, err)
	}
	return exe, maps, nil
}

// readMappings parses smaps and returns the mappings of the file exe. A
// header line is "start-end perms offset dev inode path"; the fields of a
// mapping follow its header.
func readMappings(r io.Reader, exe string) ([]Mapping, error) {
	var (
		out []Mapping
		cur *Mapping
	)
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if name, ok := strings.CutSuffix(f[0], ":"); ok {
			// A field of the current mapping: "Anonymous:   12 kB".
			var field *int64
			if cur != nil {
				switch name {
				case "Rss":
					field = &cur.Rss
				case "Referenced":
					field = &cur.Referenced
				case "Anonymous":
					field = &cur.Anonymous
				}
			}
			if field != nil && len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("bad line %q", line)
				}
				*field = kb << 10
			}
			continue
		}
		cur = nil
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok || len(f) < 6 {
			continue // VmFlags and headers of unnamed mappings
		}
		perms, path := f[1], strings.Join(f[5:], " ")
		if path != exe || len(perms) < 4 {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("bad line %q", line)
		}
		out = append(out, Mapping{Start: uintptr(start), End: uintptr(end), Perms: perms})
		cur = &out[len(out)-1]
	}
	return out, s.Err()
}
