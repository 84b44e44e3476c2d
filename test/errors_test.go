package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// addBadInputs writes the kinds of broken input users have and returns
// each file with the reason clipfs must give for it.
func addBadInputs(t *testing.T, dir string) map[string]string {
	t.Helper()
	good, _ := filepath.Glob(filepath.Join(dir, "*.mp4"))
	data, err := os.ReadFile(good[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		filepath.Join(dir, "empty.mov"):            "empty file",
		filepath.Join(dir, "garbage.mp4"):          "not a readable video",
		filepath.Join(dir, "bad", "truncated.mp4"): "not a readable video",
		filepath.Join(dir, "sound only.mkv"):       "no video stream",
	}
	os.MkdirAll(filepath.Join(dir, "bad"), 0o755)
	os.WriteFile(filepath.Join(dir, "empty.mov"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "garbage.mp4"), []byte(strings.Repeat("this is not a video\n", 500)), 0o644)
	os.WriteFile(filepath.Join(dir, "bad", "truncated.mp4"), data[:len(data)/3], 0o644)
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=3", "-c:a", "flac",
		filepath.Join(dir, "sound only.mkv")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	return bad
}

// TestCurateBadInputs: each bad file gets one clear line naming it and the
// reason, the other videos are curated, the exit status says some failed,
// and a re-run keeps what was curated.
func TestCurateBadInputs(t *testing.T) {
	videos := copyTree(t, sampleVideos(t, true))
	bad := addBadInputs(t, videos)
	db := filepath.Join(t.TempDir(), "db")
	r := mustClipfs(t, 3, "curate", "--input", videos, "--db", db)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	for file, reason := range bad {
		var hits []string
		for _, l := range lines {
			if strings.Contains(l, file) {
				hits = append(hits, l)
			}
		}
		if len(hits) != 1 || !strings.Contains(hits[0], reason) || !strings.HasPrefix(hits[0], "clipfs: ") {
			t.Errorf("%s: want one line with %q, got %q", file, reason, hits)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "goroutine") || strings.Contains(l, "*curate.") || strings.Contains(l, "panic") {
			t.Errorf("internal detail leaked: %q", l)
		}
	}
	good := countVideos(t, videos) - len(bad)
	exp := exportTree(t, db, "/out")
	if n := countFiles(t, filepath.Join(exp, "processed_videos")); n != good {
		t.Errorf("%d processed_videos, want %d good videos curated", n, good)
	}
	// A re-run curates nothing again, still reports the bad files, loses nothing.
	r = mustClipfs(t, 3, "curate", "--input", videos, "--db", db)
	if !strings.Contains(r.stderr, "0 curated") {
		t.Errorf("re-run curated again: %s", r.stderr)
	}
	if out, err := exec.Command("diff", "-r", exp, exportTree(t, db, "/out")).CombinedOutput(); err != nil {
		t.Errorf("tree changed on re-run: %s", out)
	}
}

// TestCommandErrors: bad command lines and environments get one line and a
// non-zero exit, and damage nothing.
func TestCommandErrors(t *testing.T) {
	videos := sampleVideos(t, true)
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db, "--dry-run")
	tmp := t.TempDir()
	cases := []struct {
		name string
		code int
		args []string
		want string
	}{
		{"no db flag", 2, []string{"mount", tmp}, "--db"},
		{"db missing", 1, []string{"mount", "--db", filepath.Join(tmp, "nope"), tmp}, "no clipfs database"},
		{"db not a database", 1, []string{"mount", "--db", videos, tmp}, "no clipfs database"},
		{"mountpoint missing", 1, []string{"mount", "--db", db, filepath.Join(tmp, "nope")}, "does not exist"},
		{"input missing", 1, []string{"curate", "--input", filepath.Join(tmp, "nope"), "--db", db}, "no such file"},
		{"unknown command", 2, []string{"frobnicate"}, "unknown command"},
		{"bad flag", 2, []string{"curate", "--frobnicate"}, "frobnicate"},
		{"export into non-empty folder", 1, []string{"export", "--db", db, "--out", videos}, "not empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustClipfs(t, tc.code, tc.args...)
			if tc.code != 0 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("want one line, got:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.want)
			}
		})
	}
	t.Run("already mounted and database in use", func(t *testing.T) {
		m := mount(t, db)
		r := mustClipfs(t, 1, "mount", "--db", db, m.dir)
		if !strings.Contains(r.stderr, "already mounted") {
			t.Errorf("second mount: %s", r.stderr)
		}
		r = mustClipfs(t, 1, "curate", "--input", videos, "--db", db)
		if !strings.Contains(r.stderr, "in use by another process") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("curate on a mounted database: %s", r.stderr)
		}
		if _, err := os.Stat(filepath.Join(m.dir, "processed_videos")); err != nil {
			t.Errorf("mount damaged: %v", err)
		}
	})
	// After all that the database is intact.
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db, "--dry-run")
}

func countVideos(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func countFiles(t *testing.T, dir string) int { t.Helper(); return countVideos(t, dir) }

// exportTree exports db with clip_location under out and returns the folder.
func exportTree(t *testing.T, db, out string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "export")
	mustClipfs(t, 0, "export", "--db", db, "--out", dir, "--output-path", out)
	return dir
}
