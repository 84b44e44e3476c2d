package test

import (
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// soundCheckDB curates the small sample videos, with previews.
func soundCheckDB(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", sampleVideos(t, true), "--db", db, "--generate-previews", "--workers", workers())
	return db
}

// blobFiles lists the files under DB/blobs, by name.
func blobFiles(t *testing.T, db string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(db, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files[d.Name()] = p
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// clipBlob is a clip's mp4 blob file and the clip's name under clips/,
// matched by content through an export.
func clipBlob(t *testing.T, db string) (blob, clip string) {
	t.Helper()
	byHash := map[[32]byte]string{}
	for _, p := range blobFiles(t, db) {
		if strings.HasSuffix(p, ".mp4") {
			b, _ := os.ReadFile(p)
			byHash[sha256.Sum256(b)] = p
		}
	}
	clips, _ := filepath.Glob(filepath.Join(exportTree(t, db, "/out"), "clips", "*.mp4"))
	for _, c := range clips {
		b, _ := os.ReadFile(c)
		if p, ok := byHash[sha256.Sum256(b)]; ok {
			return p, filepath.Base(c)
		}
	}
	t.Fatal("no clip matches a blob file")
	return "", ""
}

func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkFinds runs clipfs check, wants exit 1 and a problem line naming
// each of names, and returns the problem lines.
func checkFinds(t *testing.T, db string, args []string, names ...string) []string {
	t.Helper()
	r := mustClipfs(t, 1, append([]string{"check", "--db", db}, args...)...)
	var problems []string
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if strings.HasPrefix(l, "clipfs check: ") && !strings.Contains(l, " blobs checked, ") {
			problems = append(problems, l)
		}
	}
	for _, name := range names {
		found := false
		for _, l := range problems {
			found = found || strings.Contains(l, name)
		}
		if !found {
			t.Errorf("no problem line names %s:\n%s", name, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, " blobs checked, ") || strings.Contains(r.stderr, " 0 problems") {
		t.Errorf("no summary with problems:\n%s", r.stderr)
	}
	return problems
}

// TestCheckSoundDatabase: a database curated from the samples passes, with
// every blob's digest recorded.
func TestCheckSoundDatabase(t *testing.T) {
	db := soundCheckDB(t)
	for _, args := range [][]string{nil, {"--read-data"}} {
		r := mustClipfs(t, 0, append([]string{"check", "--db", db}, args...)...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if len(lines) != 1 || !strings.HasPrefix(last, "clipfs check: ") || !strings.Contains(last, " blobs checked, 0 problems") || strings.Contains(last, "no digest") {
			t.Errorf("check %v:\n%s", args, r.stderr)
		}
	}
}

// TestCheckFindsDamage: each kind of damage gets a line naming the file and
// exit 1; a flipped byte only with --read-data.
func TestCheckFindsDamage(t *testing.T) {
	t.Run("flipped byte", func(t *testing.T) {
		db := soundCheckDB(t)
		blob, clip := clipBlob(t, db)
		flipByte(t, blob)
		mustClipfs(t, 0, "check", "--db", db)
		lines := checkFinds(t, db, []string{"--read-data"}, filepath.Base(blob))
		if len(lines) != 1 || !strings.Contains(lines[0], "(clip "+strings.TrimSuffix(clip, ".mp4")) || !strings.Contains(lines[0], "does not match its recorded digest") {
			t.Errorf("want one line naming the clip's digest mismatch: %q", lines)
		}
	})
	t.Run("deleted blob", func(t *testing.T) {
		db := soundCheckDB(t)
		blob, clip := clipBlob(t, db)
		os.Remove(blob)
		lines := checkFinds(t, db, nil, filepath.Base(blob))
		if len(lines) != 1 || !strings.Contains(lines[0], "(clip "+strings.TrimSuffix(clip, ".mp4")) || !strings.Contains(lines[0], "missing") {
			t.Errorf("want one line naming the missing blob: %q", lines)
		}
	})
	t.Run("orphan blob", func(t *testing.T) {
		db := soundCheckDB(t)
		orphan := filepath.Join(db, "blobs", "ab", "ab0rphan.mp4")
		os.MkdirAll(filepath.Dir(orphan), 0o755)
		os.WriteFile(orphan, []byte("not a clip"), 0o644)
		lines := checkFinds(t, db, nil, "ab0rphan.mp4")
		if len(lines) != 1 || !strings.Contains(lines[0], "referenced by no record") {
			t.Errorf("want one line naming the orphan: %q", lines)
		}
	})
}

// TestCheckShardMemberGone: a video curated again leaves its first clips to
// the sealed shard that holds them; one of those blobs deleted is named as
// the shard's member.
func TestCheckShardMemberGone(t *testing.T) {
	videos := filepath.Join(t.TempDir(), "videos")
	os.MkdirAll(videos, 0o755)
	src := filepath.Join(sampleVideos(t, true), "a", "bars_320x240_2997fps_23s.mp4")
	video := filepath.Join(videos, "bars.mp4")
	if out, err := exec.Command("cp", src, video).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db)
	first := blobFiles(t, db)
	later := time.Now().Add(time.Minute)
	os.Chtimes(video, later, later) // a new fingerprint: curated again
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db)
	mustClipfs(t, 0, "check", "--db", db, "--read-data")
	var held string // a first-run clip blob that only the shard holds now
	for name, p := range blobFiles(t, db) {
		if _, ok := first[name]; ok && strings.HasSuffix(name, ".mp4") {
			held = p
		}
	}
	if held == "" {
		t.Fatal("the sealed shard kept none of the first run's clips")
	}
	os.Remove(held)
	lines := checkFinds(t, db, nil, filepath.Base(held))
	if len(lines) != 1 || !strings.Contains(lines[0], "(wds/shard-000000.tar member ") || strings.Contains(lines[0], "(clip ") || !strings.Contains(lines[0], "missing") {
		t.Errorf("want one line naming the shard member: %q", lines)
	}
}

// TestCheckCorruptBlobThroughMount: reading a clip whose blob has a flipped
// byte gives EIO (never wrong bytes), as does the shard holding it; the
// mount logs it once per file; other clips read.
func TestCheckCorruptBlobThroughMount(t *testing.T) {
	needFUSE(t)
	db := soundCheckDB(t)
	blob, clip := clipBlob(t, db)
	flipByte(t, blob)
	m := mount(t, db)
	for range 2 {
		_, err := os.ReadFile(filepath.Join(m.dir, "clips", clip))
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("reading %s: %v, want EIO", clip, err)
		}
	}
	f, err := os.Open(filepath.Join(m.dir, "wds", "shard-000000.tar"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, f)
	f.Close()
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("reading the shard holding it: %v, want EIO", err)
	}
	clips, _ := filepath.Glob(filepath.Join(m.dir, "clips", "*.mp4"))
	for _, c := range clips {
		if filepath.Base(c) != clip {
			if _, err := os.ReadFile(c); err != nil {
				t.Errorf("a sound clip: %v", err)
			}
		}
	}
	m.stop(t)
	logged := m.stderr.String()
	if n := strings.Count(logged, "corrupt blob not served file=clips/"+clip); n != 1 {
		t.Errorf("want one warning naming clips/%s, got %d:\n%s", clip, n, logged)
	}
}
