package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRootIsLink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	folder := filepath.Join(dir, "folder")
	mkdir(t, folder)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(folder, link); err != nil {
		t.Fatal(err)
	}
	w, err := New(link, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var mu sync.Mutex
	var got []string
	go func() {
		done <- w.Run(ctx, func(p string) { mu.Lock(); got = append(got, p); mu.Unlock() })
	}()
	writeFile(t, filepath.Join(folder, "a.mp4"), "through the link")
	want := filepath.Join(link, "a.mp4")
	eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(got, want)
	}, "%s reported", want)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNewNestedFolder(t *testing.T) {
	t.Parallel()
	h := start(t, testOptions(), nil)
	dir := filepath.Join(h.root, "a", "b")
	mkdir(t, dir)
	first := filepath.Join(dir, "first.mp4") // likely before b's watch exists
	writeFile(t, first, "one")
	h.waitReports(t, first, 1)
	later := filepath.Join(dir, "later.mp4") // surely after
	writeFile(t, later, "two")
	h.waitReports(t, later, 1)
}

func TestFolderMovedInAndOut(t *testing.T) {
	t.Parallel()
	h := start(t, testOptions(), nil)
	outside := filepath.Join(filepath.Dir(h.root), "batch")
	mkdir(t, filepath.Join(outside, "deep"))
	writeFile(t, filepath.Join(outside, "deep", "x.mp4"), "x")
	inside := filepath.Join(h.root, "batch")
	if err := os.Rename(outside, inside); err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(inside, "deep", "x.mp4")
	h.waitReports(t, x, 1)
	y := filepath.Join(inside, "deep", "y.mp4") // the moved-in subfolder is watched
	writeFile(t, y, "y")
	h.waitReports(t, y, 1)

	// Out and back: the files are forgotten, so reported again.
	if err := os.Rename(inside, outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(outside, inside); err != nil {
		t.Fatal(err)
	}
	h.waitReports(t, x, 2)
	h.waitReports(t, y, 2)
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRescanCoversUnwatchedFolder(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	o := testOptions()
	o.Rescan = 300 * time.Millisecond
	o.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var sub string
	limited := func(fd int, path string, mask uint32) (int, error) {
		if path == sub {
			return -1, unix.ENOSPC // as if the watch limit were reached here
		}
		return unix.InotifyAddWatch(fd, path, mask)
	}
	h := startWith(t, o, func(root string) {
		sub = filepath.Join(root, "sub")
		mkdir(t, sub)
	}, limited)
	path := filepath.Join(sub, "missed.mp4")
	writeFile(t, path, "no event for this")
	h.waitReports(t, path, 1)

	eventually(t, func() bool { return strings.Contains(logs.String(), "level=WARN") },
		"a warning")
	time.Sleep(2 * o.Rescan) // more rescans: the warning is not repeated
	text := logs.String()
	if n := strings.Count(text, "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, text)
	}
	if !strings.Contains(text, sub) || !strings.Contains(text, "rescan") {
		t.Errorf("warning does not name the folder and the rescan:\n%s", text)
	}
}

func TestRootDeleted(t *testing.T) {
	t.Parallel()
	h := start(t, testOptions(), nil)
	if err := os.RemoveAll(h.root); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.done:
		if !errors.Is(err, ErrRootGone) || !strings.Contains(err.Error(), h.root) {
			t.Fatalf("Run = %v, want ErrRootGone naming the root", err)
		}
		h.done <- nil
	case <-time.After(patience):
		t.Fatal("Run did not return after the root was deleted")
	}
}

func TestQueueOverflow(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	o := testOptions()
	o.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	root := filepath.Join(t.TempDir(), "in")
	mkdir(t, root)
	w, err := New(root, o)
	if err != nil {
		t.Fatal(err)
	}
	// Before Run reads anything, queue more events than the kernel keeps
	// (alternating, so that none merge with the previous one).
	a, b := filepath.Join(root, "a.mp4"), filepath.Join(root, "b.mp4")
	writeFile(t, a, "a")
	writeFile(t, b, "b")
	limit := 16384
	if data, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		fmt.Sscan(string(data), &limit)
	}
	if limit > 1<<17 {
		t.Skipf("max_queued_events is %d: too many events to overflow it quickly", limit)
	}
	for i := range limit/2 + 1 {
		mode := os.FileMode(0o600 | (i%2)<<2)
		if err := os.Chmod(a, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(b, mode); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var mu sync.Mutex
	var got []string
	go func() {
		done <- w.Run(ctx, func(p string) { mu.Lock(); got = append(got, p); mu.Unlock() })
	}()
	eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	}, "both files reported")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "overflowed") {
		t.Errorf("no overflow warning:\n%s", logs.String())
	}
}
