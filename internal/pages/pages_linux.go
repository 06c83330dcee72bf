package pages

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	exe, err := os.Executable()
	if err != nil {
		return Released{}, fmt.Errorf("release pages: %w", err)
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return Released{}, fmt.Errorf("release pages: %w", err)
	}
	maps, err := readMappings(f, exe)
	f.Close()
	if err != nil {
		return Released{}, fmt.Errorf("release pages: /proc/self/smaps: %w", err)
	}
	var r Released
	for _, m := range maps {
		if m.anonymous > 0 {
			r.Skipped++
			continue
		}
		// MADV_RANDOM first: a later fault then reads the one page it
		// needs instead of a readahead window around it.
		for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_DONTNEED} {
			if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, advice); errno != 0 {
				return r, fmt.Errorf("release pages: madvise %x-%x: %w", m.start, m.end, errno)
			}
		}
		r.Mappings++
		r.Bytes += int64(m.end - m.start)
	}
	if r.Mappings == 0 {
		return r, nil
	}
	// Drop the executable's pages that no process maps any more from the
	// page cache too. The kernel's fault-around maps the cached neighbours
	// of a faulting page; with the cache holding only what is read again,
	// it maps little beyond that.
	f, err = os.Open(exe)
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

// mapping is one read-only private mapping of the executable.
type mapping struct {
	start, end uintptr
	anonymous  int64 // bytes of anonymous pages (the smaps "Anonymous:" field)
}

// readMappings parses smaps and returns the executable's private, read-only
// mappings. A header line is "start-end perms offset dev inode path"; the
// fields of a mapping follow its header.
func readMappings(r io.Reader, exe string) ([]mapping, error) {
	var (
		out []mapping
		cur *mapping
	)
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if addr, ok := strings.CutSuffix(f[0], ":"); ok {
			// A field of the current mapping: "Anonymous:   12 kB".
			if cur != nil && addr == "Anonymous" && len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("bad line %q", line)
				}
				cur.anonymous = kb << 10
			}
			continue
		}
		cur = nil
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok || len(f) < 6 {
			continue // VmFlags and headers of unnamed mappings
		}
		perms, path := f[1], strings.Join(f[5:], " ")
		if path != exe || len(perms) < 4 || perms[1] == 'w' || perms[3] != 'p' {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("bad line %q", line)
		}
		out = append(out, mapping{start: uintptr(start), end: uintptr(end)})
		cur = &out[len(out)-1]
	}
	return out, s.Err()
}
