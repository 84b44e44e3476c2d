package test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestShardReadPaths: a shard whose media members are blobs of odd sizes
// (so that members start anywhere in a page) reads the same bytes through
// every way the mount serves it: blob data spliced from the blob files,
// copied (--no-splice), read in order with reads of odd sizes, read
// backwards by a reader seeking to the start of each chunk before the last,
// and read at random by 8 readers at once; each compared with a reference
// tar built with archive/tar from the tree's own files. Clip media read
// with --no-passthrough (spliced, and copied) equal the blob files too.
func TestShardReadPaths(t *testing.T) {
	needFUSE(t)
	populate := filepath.Join(t.TempDir(), "populate")
	build := exec.Command("go", "build", "-o", populate, "./bench/populate")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building bench/populate: %v\n%s", err, out)
	}
	db := filepath.Join(t.TempDir(), "db")
	if out, err := exec.Command(populate, "-db", db, "-n", "9", "-blobs", "0", "-size", fmt.Sprint(3<<20+4093), "-shard").CombinedOutput(); err != nil {
		t.Fatalf("populate: %v\n%s", err, out)
	}

	var ref []byte // the shard as the copying mount serves it, checked against the reference tar
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"copy", []string{"--no-splice", "--no-passthrough"}},
		{"splice", []string{"--no-passthrough"}},
		{"splice+passthrough", nil},
	} {
		t.Run(mode.name, func(t *testing.T) {
			m := mount(t, db, mode.flags...)
			shard := filepath.Join(m.dir, "wds", "shard-000000.tar")
			if n := checkShard(t, m.dir, shard); n != 9 {
				t.Fatalf("%d samples in the shard, want 9", n)
			}
			whole, err := os.ReadFile(shard)
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = whole
			} else if !bytes.Equal(whole, ref) {
				t.Fatalf("the shard read %s differs from the copying mount's", mode.name)
			}
			checkSequential(t, shard, ref, 100<<10+7)
			checkSequential(t, shard, ref, 1<<20)
			checkBackwards(t, shard, ref, 1<<20+511)
			checkRandomReadsOf(t, shard, ref)
			checkClipsEqualBlobs(t, m.dir, db)
		})
	}
}

// checkSequential reads path in order, bs bytes a call, and compares.
func checkSequential(t *testing.T, path string, want []byte, bs int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got bytes.Buffer
	if _, err := io.CopyBuffer(&got, struct{ io.Reader }{f}, make([]byte, bs)); err != nil {
		t.Fatalf("reading %s by %d bytes: %v", path, bs, err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("%s read in order by %d bytes differs (%d bytes, want %d)", path, bs, got.Len(), len(want))
	}
}

// checkBackwards reads path chunk by chunk from the end, seeking back
// before each read, as a reader of a tar's index at its end might.
func checkBackwards(t *testing.T, path string, want []byte, chunk int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, chunk)
	for end := int64(len(want)); end > 0; end -= int64(chunk) {
		off := max(0, end-int64(chunk))
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(f, buf[:end-off]); err != nil {
			t.Fatalf("%s: reading %d bytes at %d backwards: %v", path, end-off, off, err)
		}
		if !bytes.Equal(buf[:end-off], want[off:end]) {
			t.Fatalf("%s: %d bytes at %d read backwards differ", path, end-off, off)
		}
	}
}

// checkClipsEqualBlobs: every clip's media through the mount hashes as
// one of the database's blob files.
func checkClipsEqualBlobs(t *testing.T, root, db string) {
	t.Helper()
	blobs := map[[32]byte]bool{}
	filepath.Walk(filepath.Join(db, "blobs"), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			b, rerr := os.ReadFile(p)
			if rerr != nil {
				return rerr
			}
			blobs[sha256.Sum256(b)] = true
		}
		return err
	})
	clips, _ := filepath.Glob(filepath.Join(root, "clips", "*.mp4"))
	if len(clips) == 0 {
		t.Fatal("no clips in the mount")
	}
	for _, c := range clips {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		if !blobs[sha256.Sum256(b)] {
			t.Errorf("%s: %d bytes equal to no blob file", c, len(b))
		}
	}
}
