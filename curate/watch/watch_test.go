package watch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	testSettle = 150 * time.Millisecond
	// patience bounds every wait for something that must happen.
	patience = 10 * time.Second
)

// testOptions are short settle times and no rescan, so that the tests see
// what inotify alone finds.
func testOptions() Options {
	return Options{Settle: testSettle, OpenWrite: 3 * time.Second, Rescan: -1}
}

// report is one call of ready: the path and the file's size at that moment.
type report struct {
	path string
	size int64
}

// harness runs a Watcher on a temporary root and records its reports.
type harness struct {
	root   string
	w      *Watcher
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	got    []report
}

// start creates root/in, lets prepare fill it, and runs a Watcher on it.
func start(t *testing.T, o Options, prepare func(root string)) *harness {
	t.Helper()
	return startWith(t, o, prepare, unix.InotifyAddWatch)
}

func startWith(t *testing.T, o Options, prepare func(root string), add addWatchFunc) *harness {
	t.Helper()
	h := &harness{root: filepath.Join(t.TempDir(), "in"), done: make(chan error, 1)}
	mkdir(t, h.root)
	if prepare != nil {
		prepare(h.root)
	}
	w, err := newWatcher(h.root, o, add)
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- w.Run(ctx, h.ready) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil && !errors.Is(err, ErrRootGone) {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(patience):
			t.Errorf("Run did not return after cancel")
		}
	})
	return h
}

func (h *harness) ready(path string) {
	r := report{path: path, size: -1}
	if fi, err := os.Stat(path); err == nil {
		r.size = fi.Size()
	}
	h.mu.Lock()
	h.got = append(h.got, r)
	h.mu.Unlock()
}

// reports returns the reports of path so far.
func (h *harness) reports(path string) []report {
	h.mu.Lock()
	defer h.mu.Unlock()
	var rs []report
	for _, r := range h.got {
		if r.path == path {
			rs = append(rs, r)
		}
	}
	return rs
}

// waitReports waits until path has been reported n times and returns the reports.
func (h *harness) waitReports(t *testing.T, path string, n int) []report {
	t.Helper()
	eventually(t, func() bool { return len(h.reports(path)) >= n },
		"%s reported %d times", path, n)
	return h.reports(path)
}

// quiet waits a few settle periods, for checking that nothing more comes.
func quiet() { time.Sleep(3 * testSettle) }

// eventually polls cond until it holds or patience runs out.
func eventually(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: "+format, args...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	writeFile(t, file, "x")
	for _, tc := range []struct{ name, root, want string }{
		{"missing", filepath.Join(dir, "nope"), "nope"},
		{"file", file, "not a folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.root, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.root) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%s) = %v, want an error naming it and %q", tc.root, err, tc.want)
			}
		})
	}
}

func TestExistingFileReportedOnce(t *testing.T) {
	t.Parallel()
	var path string
	h := start(t, testOptions(), func(root string) {
		mkdir(t, filepath.Join(root, "sub"))
		path = filepath.Join(root, "sub", "a.mp4")
		writeFile(t, path, "hello")
	})
	rs := h.waitReports(t, path, 1)
	if rs[0].size != 5 {
		t.Errorf("size at report = %d, want 5", rs[0].size)
	}
	quiet()
	if n := len(h.reports(path)); n != 1 {
		t.Errorf("reported %d times, want once", n)
	}
	if n := h.w.Pending(); n != 0 {
		t.Errorf("Pending = %d after the report, want 0", n)
	}
}

func TestSlowWriterReportedOnceAtFinalSize(t *testing.T) {
	t.Parallel()
	h := start(t, testOptions(), nil)
	path := filepath.Join(h.root, "slow.mp4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	piece := bytes.Repeat([]byte{7}, 64<<10)
	const pieces = 5
	for i := range pieces {
		if i > 0 {
			time.Sleep(testSettle / 2)
		}
		if _, err := f.Write(piece); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rs := h.waitReports(t, path, 1)
	if want := int64(pieces * len(piece)); rs[0].size != want {
		t.Errorf("size at report = %d, want the final %d", rs[0].size, want)
	}
	quiet()
	if n := len(h.reports(path)); n != 1 {
		t.Errorf("reported %d times, want once", n)
	}
}

func TestOpenWriterPauseWaitsForClose(t *testing.T) {
	t.Parallel()
	h := start(t, testOptions(), nil) // OpenWrite 3s
	path := filepath.Join(h.root, "open.mp4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("first part"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * testSettle) // longer than Settle, shorter than OpenWrite
	if n := len(h.reports(path)); n != 0 {
		t.Fatalf("reported %d times while its writer paused", n)
	}
	if _, err := f.WriteString(", second part"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rs := h.waitReports(t, path, 1)
	if rs[0].size != int64(len("first part, second part")) {
		t.Errorf("size at report = %d, want the final size", rs[0].size)
	}
}

func TestOpenWriterReportedAfterOpenWrite(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.OpenWrite = 3 * testSettle
	h := start(t, o, nil)
	path := filepath.Join(h.root, "stuck.mp4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("never closed"); err != nil {
		t.Fatal(err)
	}
	h.waitReports(t, path, 1) // while still open
}

func TestPending(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.OpenWrite = time.Hour
	h := start(t, o, nil)
	path := filepath.Join(h.root, "p.mp4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return h.w.Pending() == 1 }, "Pending = 1")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	h.waitReports(t, path, 1)
	eventually(t, func() bool { return h.w.Pending() == 0 }, "Pending = 0")
}

func TestRenamedInFileReported(t *testing.T) {
	t.Parallel()
	h := start(t, testOptions(), nil)
	outside := filepath.Join(filepath.Dir(h.root), "staging.mp4")
	writeFile(t, outside, "finished elsewhere")
	path := filepath.Join(h.root, "moved.mp4")
	if err := os.Rename(outside, path); err != nil {
		t.Fatal(err)
	}
	h.waitReports(t, path, 1)
}

func TestRewriteAndRecreateReportedAgain(t *testing.T) {
	t.Parallel()
	h := start(t, testOptions(), nil)
	path := filepath.Join(h.root, "r.mp4")
	writeFile(t, path, "version one")
	h.waitReports(t, path, 1)

	writeFile(t, path, "version two, longer")
	rs := h.waitReports(t, path, 2)
	if rs[1].size != int64(len("version two, longer")) {
		t.Errorf("second report size = %d", rs[1].size)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	// Recreated with the same size and mtime: only forgetting on delete
	// makes it new.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "version two, longer")
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	h.waitReports(t, path, 3)
	quiet()
	if n := len(h.reports(path)); n != 3 {
		t.Errorf("reported %d times, want 3", n)
	}
}

func TestTouchReportsAgainChmodDoesNot(t *testing.T) {
	t.Parallel()
	h := start(t, testOptions(), nil)
	path := filepath.Join(h.root, "t.mp4")
	writeFile(t, path, "content")
	h.waitReports(t, path, 1)

	if err := os.Chmod(path, 0o600); err != nil { // IN_ATTRIB, same stamp
		t.Fatal(err)
	}
	quiet()
	if n := len(h.reports(path)); n != 1 {
		t.Fatalf("reported %d times after chmod, want 1", n)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil { // IN_ATTRIB, new mtime
		t.Fatal(err)
	}
	h.waitReports(t, path, 2)
}

func TestMatchAndFileKinds(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.Match = func(p string) bool { return strings.HasSuffix(p, ".mp4") }
	var old string
	h := start(t, o, func(root string) {
		old = filepath.Join(root, "old.txt")
		writeFile(t, old, "not a video")
	})
	target := filepath.Join(filepath.Dir(h.root), "target.mp4")
	writeFile(t, target, "outside")
	link := filepath.Join(h.root, "link.mp4")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(h.root, "fifo.mp4")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(h.root, "empty.mp4")
	writeFile(t, empty, "")
	txt := filepath.Join(h.root, "new.txt")
	writeFile(t, txt, "not a video either")
	video := filepath.Join(h.root, "v.mp4")
	writeFile(t, video, "a video")

	h.waitReports(t, video, 1)
	quiet()
	for _, p := range []string{old, link, fifo, empty, txt} {
		if n := len(h.reports(p)); n != 0 {
			t.Errorf("%s reported %d times, want never", filepath.Base(p), n)
		}
	}
	eventually(t, func() bool { return h.w.Pending() == 0 }, "nothing pending")

	writeFile(t, empty, "grown") // an empty file that grows is reported
	h.waitReports(t, empty, 1)
}

func TestRunReturnsOnCancel(t *testing.T) {
	t.Parallel()
	h := start(t, testOptions(), func(root string) {
		writeFile(t, filepath.Join(root, "busy.mp4"), "keeps a check due")
	})
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("Run = %v after cancel, want nil", err)
		}
		h.done <- nil // for the cleanup
	case <-time.After(patience):
		t.Fatal("Run did not return after cancel")
	}
	if err := h.w.Run(context.Background(), h.ready); err == nil {
		t.Error("a second Run succeeded")
	}
}

func TestRunCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	w, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Run(ctx, func(string) {}); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}
