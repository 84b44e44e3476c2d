package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// blobPath is where the database's folder store keeps blob name: for
// tests that damage blob files behind the index's back.
func (db *DB) blobPath(name string) string {
	p, ok := db.BlobLocalPath(name)
	if !ok {
		panic("blobPath: the store keeps no local files")
	}
	return p
}

// opaqueStore hides every capability of the store it wraps beyond
// BlobStore (LocalPath, strays), as a remote store would.
type opaqueStore struct{ BlobStore }

func TestFolderStoreLayout(t *testing.T) {
	dir := t.TempDir()
	s := NewFolderStore(dir)
	for name, want := range map[string]string{"abcd.mp4": "ab/abcd.mp4", "a": "__/a"} {
		src := filepath.Join(t.TempDir(), "src")
		os.WriteFile(src, []byte(name), 0o644)
		if err := s.Put(context.Background(), name, src); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, want)); err != nil || string(b) != name {
			t.Errorf("blob %s not at %s: %q %v", name, want, b, err)
		}
		if p, ok := s.LocalPath(name); !ok || p != filepath.Join(dir, want) {
			t.Errorf("LocalPath(%s) = %s %v", name, p, ok)
		}
	}
	for _, bad := range []string{"", ".", "..", "ab/cd.mp4"} {
		if _, ok := s.LocalPath(bad); ok {
			t.Errorf("LocalPath(%q) is ok", bad)
		}
		if _, err := s.Open(context.Background(), bad); err == nil {
			t.Errorf("Open(%q): no error", bad)
		}
		if err := s.Remove(context.Background(), bad); err == nil {
			t.Errorf("Remove(%q): no error", bad)
		}
	}
}

// TestCheckReportsStrays: files under blobs/ that are not blobs are
// reported as files, and listed by no one.
func TestCheckReportsStrays(t *testing.T) {
	db, _ := soundDB(t)
	misplaced := filepath.Join(db.Dir(), "blobs", "zz", "ab-misplaced.mp4")
	os.MkdirAll(filepath.Dir(misplaced), 0o755)
	os.WriteFile(misplaced, []byte("x"), 0o644)
	fifo := db.blobPath("cd-fifo.mp4")
	os.MkdirAll(filepath.Dir(fifo), 0o755)
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	_, problems := runCheck(t, db, false)
	want := []string{
		"file blobs/cd/cd-fifo.mp4: not a regular file (p---------)",
		"file blobs/zz/ab-misplaced.mp4: not a blob: blob ab-misplaced.mp4 would be at " + db.blobPath("ab-misplaced.mp4"),
	}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
	err := db.blobs.List(context.Background(), func(b BlobInfo) error {
		if b.Name == "ab-misplaced.mp4" || b.Name == "cd-fifo.mp4" {
			t.Errorf("List names stray %s", b.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStoreWithoutLocalFiles runs a database over a store that keeps no
// local files: blobs are adopted, read, verified, checked and swept
// through the store alone.
func TestStoreWithoutLocalFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	folder := NewFolderStore(filepath.Join(t.TempDir(), "elsewhere"))
	open := func() *DB {
		db, err := Open(dir, Options{Create: true, Blobs: opaqueStore{folder}})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	cc := commitWithSamples(t, db, "/in/a.mp4", "fp", 3, ShardLimits{MaxSamples: 2})
	blob := cc.Clips[0].Media.Blob
	if _, ok := db.BlobLocalPath(blob); ok {
		t.Fatal("BlobLocalPath through a store without local files")
	}
	r, err := db.OpenBlob(context.Background(), blob)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	r.Close()
	if string(got) != "fp-"+cc.Clips[0].ID.String() {
		t.Fatalf("blob reads %q", got)
	}
	if _, err := db.OpenBlob(context.Background(), "nope.mp4"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing blob: %v", err)
	}
	if err := db.VerifyBlob(blob); err != nil {
		t.Fatal(err)
	}
	content, err := db.OpenShardContent(0)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range content.Files {
		if f.Ext == "mp4" {
			if _, err := content.ReadMember(i, make([]byte, f.Size), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	content.Close()
	if st, problems := runCheck(t, db, true); len(problems) > 0 || st.BytesRead == 0 {
		t.Fatalf("check: %+v %v", st, problems)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", blob[:2])); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a blob landed in the database's own folder: %v", err)
	}
	orphan := writeBlob(t, db, "never committed")
	gone := cc.Clips[1].Media.Blob // the filtered clip: no shard holds it
	folder.Remove(context.Background(), gone)
	_, problems := runCheck(t, db, false)
	if len(problems) != 2 || !strings.Contains(strings.Join(problems, "\n"), "blob "+gone+" (clip "+cc.Clips[1].ID.String()+"): the stored blob is missing") ||
		!strings.Contains(strings.Join(problems, "\n"), "blob "+orphan.Name+": the stored blob is referenced by no record") {
		t.Fatalf("check:\n%s", strings.Join(problems, "\n"))
	}
	db.Close()
	db = open()
	defer db.Close()
	if _, err := folder.Open(context.Background(), orphan.Name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("orphan survived the sweep: %v", err)
	}
	if err := db.VerifyBlob(blob); err != nil {
		t.Errorf("a referenced blob after the sweep: %v", err)
	}
}

// abortingStore counts the AbortUploads calls a writable open makes.
type abortingStore struct {
	BlobStore
	calls     []time.Duration
	unchecked int // uploads left to abort
}

func (s *abortingStore) AbortUploads(_ context.Context, olderThan time.Duration) (int, error) {
	s.calls = append(s.calls, olderThan)
	n := s.unchecked
	s.unchecked = 0
	return n, nil
}

func (s *abortingStore) Uploads(_ context.Context, fn func(string, time.Time) error) error {
	for i := range s.unchecked {
		if err := fn(fmt.Sprintf("up%d.mp4", i), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
			return err
		}
	}
	return nil
}

// TestSweepAbortsUploads: a writable open aborts every unfinished upload
// of a store that keeps them; a read-only open leaves them, and Check
// reports them.
func TestSweepAbortsUploads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st := &abortingStore{BlobStore: NewFolderStore(filepath.Join(t.TempDir(), "elsewhere")), unchecked: 2}
	db, err := Open(dir, Options{Create: true, Blobs: st})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if len(st.calls) != 1 || st.calls[0] > 0 || st.unchecked != 0 {
		t.Fatalf("writable open: AbortUploads calls %v, %d uploads left", st.calls, st.unchecked)
	}
	st.unchecked = 1
	db, err = Open(dir, Options{ReadOnly: true, Blobs: st})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if len(st.calls) != 1 || st.unchecked != 1 {
		t.Fatalf("read-only open: AbortUploads calls %v, %d uploads left", st.calls, st.unchecked)
	}
	_, problems := runCheck(t, db, false)
	want := "upload up0.mp4: unfinished since 2026-01-02T03:04:05Z, left by a writer killed during its put (the next writable open aborts it)"
	if len(problems) != 1 || problems[0] != want {
		t.Fatalf("check: %q, want %q", problems, want)
	}
}
