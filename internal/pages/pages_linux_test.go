package pages

import (
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestReadMappings_AndThePlanKeepOnlyTheExecutablesCleanPrivateReadOnlyMappings(t *testing.T) {
	f, err := os.Open("testdata/smaps.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := readMappings(f, "/opt/healthd/bin/healthd")
	if err != nil {
		t.Fatal(err)
	}
	// Every mapping of the file, with its fields; not other files, nor a
	// deleted file of the same name.
	want := []Mapping{
		{Start: 0x400000, End: 0x14c8000, Perms: "r-xp", Rss: 10584 << 10, Referenced: 2688 << 10},
		{Start: 0x14c8000, End: 0x251e000, Perms: "r--p", Rss: 12496 << 10},
		{Start: 0x251e000, End: 0x25c7000, Perms: "rw-p", Anonymous: 548 << 10},
		{Start: 0x7f0000000000, End: 0x7f0000100000, Perms: "r--p", Anonymous: 64 << 10},
		{Start: 0x7f0000200000, End: 0x7f0000300000, Perms: "r--s"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// Release drops the text and rodata segments and skips the read-only
	// mapping holding copied-on-write pages; not the writable data segment
	// or the shared mapping.
	drop, skipped := plan(got)
	if !slices.Equal(drop, want[:2]) || skipped != 1 {
		t.Errorf("plan: drop %+v, skipped %d; want the first two, 1", drop, skipped)
	}

	f2, _ := os.Open("testdata/smaps.txt")
	defer f2.Close()
	spaced, err := readMappings(f2, "/opt/my apps/healthd")
	if err != nil || len(spaced) != 1 || spaced[0].Start != 0x7f3000000000 {
		t.Errorf("path with a space: %+v, %v", spaced, err)
	}
}

func TestReadMappings_RejectsAMalformedField(t *testing.T) {
	in := "00400000-00500000 r-xp 00000000 fe:00 1 /x\nAnonymous: many kB\n"
	if _, err := readMappings(strings.NewReader(in), "/x"); err == nil {
		t.Fatal("want an error for a non-numeric Anonymous field")
	}
}

// TestRelease_DropsResidentPagesAndTheProcessRunsOn releases the test
// binary's own pages: its resident file-backed size falls, the code keeps
// running (every page it needs is mapped back), and writable data is left
// alone.
func TestRelease_DropsResidentPagesAndTheProcessRunsOn(t *testing.T) {
	before := rssFile(t)
	r, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	if r.Mappings < 2 {
		t.Errorf("released %d mappings, want the text and read-only data at least: %+v", r.Mappings, r)
	}
	if before-after < 256<<10 {
		t.Errorf("resident pages of the executable %d kB -> %d kB: want at least 256 kB fewer", before>>10, after>>10)
	}
	// Run code the test has not run yet: its pages come back from the file.
	re := regexp.MustCompile(`^(\d+)-(\d+)$`)
	if m := re.FindStringSubmatch("12-34"); len(m) != 3 || m[2] != "34" {
		t.Errorf("regexp after release: %q", m)
	}
	if flagValue != "set at init" {
		t.Errorf("writable data reverted by the release: %q", flagValue)
	}
	again, err := Release()
	if err != nil || again.Mappings != r.Mappings {
		t.Errorf("a second release: %+v, %v (first %+v)", again, err, r)
	}
}

// flagValue lives in the writable data segment and is changed from its
// initial value before the release, so a release of writable mappings
// would revert it.
var flagValue = "initial"

func init() { flagValue = "set at init" }

// rssFile is how much of the test binary is resident.
func rssFile(t *testing.T) int64 {
	t.Helper()
	_, maps, err := Executable("self")
	if err != nil || len(maps) == 0 {
		t.Fatalf("no mappings of the executable: %v", err)
	}
	var n int64
	for _, m := range maps {
		n += m.Rss
	}
	return n
}

// TestRelease_EvictsTheExecutableFromThePageCache maps the test binary
// without touching it and counts its pages in the page cache (mincore):
// after Release fewer are cached, and the released mappings are marked
// for random access (smaps VmFlags "rr"), so a later fault reads one page.
func TestRelease_EvictsTheExecutableFromThePageCache(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	cached := func() int {
		vec := make([]byte, (len(data)+os.Getpagesize()-1)/os.Getpagesize())
		_, _, errno := syscall.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), uintptr(unsafe.Pointer(&vec[0])))
		if errno != 0 {
			t.Fatal(errno)
		}
		n := 0
		for _, v := range vec {
			n += int(v & 1)
		}
		return n
	}
	// Read the whole file so that it is all cached to begin with.
	if _, err := io.Copy(io.Discard, f); err != nil {
		t.Fatal(err)
	}
	before := cached()
	r, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := cached()
	// Pages the process maps (the code running now) stay cached, and with
	// them the rest of their folio: more in a -race binary, whose
	// instrumented code touches the race runtime's pages constantly.
	if !r.Evicted || after > before*3/4 {
		t.Errorf("pages of the executable in the page cache: %d before, %d after (evicted %v)", before, after, r.Evicted)
	}

	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	random := 0
	in := false
	for _, line := range strings.Split(string(smaps), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 6 && !strings.HasSuffix(fields[0], ":"):
			in = fields[5] == exe && !strings.Contains(fields[1], "w") && strings.HasSuffix(fields[1], "p")
		case in && len(fields) > 0 && fields[0] == "VmFlags:":
			if slices.Contains(fields[1:], "rr") {
				random++
			}
		}
	}
	if random != r.Mappings {
		t.Errorf("%d of the %d released mappings are marked for random access", random, r.Mappings)
	}
}
