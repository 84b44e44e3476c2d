package test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Faults of the machine (a full disk, a killed ffmpeg) are never recorded
// as the clips' own: the run exits 4, nothing of the chunk they hit is
// committed, and a re-run gives the tree of a clean run, byte for byte.

var noisyVideos struct {
	dir string
	err error
}

// noisyInput makes (once) three 12 s videos whose clips are large enough
// (noise does not compress) to fill a small filesystem.
func noisyInput(t *testing.T) string {
	t.Helper()
	needMedia(t)
	samplesMu.Lock()
	defer samplesMu.Unlock()
	if noisyVideos.dir == "" && noisyVideos.err == nil {
		noisyVideos.dir, noisyVideos.err = os.MkdirTemp("", "clipfs-noisy")
		for i := range 3 {
			out := filepath.Join(noisyVideos.dir, fmt.Sprintf("noisy%d.mp4", i))
			cmd := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i",
				fmt.Sprintf("testsrc2=s=320x240:r=25:d=12,noise=alls=%d:allf=t", 20+10*i),
				"-c:v", "libx264", "-preset", "ultrafast", "-threads", "1", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				noisyVideos.err = fmt.Errorf("ffmpeg: %v\n%s", err, b)
				break
			}
		}
	}
	if noisyVideos.err != nil {
		t.Fatal(noisyVideos.err)
	}
	return noisyVideos.dir
}

// cleanRun curates in into a fresh database and exports it.
func cleanRun(t *testing.T, in string, args ...string) (db, tree string) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "clean")
	mustClipfs(t, 0, append([]string{"curate", "--input", in, "--db", db}, args...)...)
	return db, exportTree(t, db, "/out")
}

// sameAsClean fails unless db's export equals the clean tree (diff -r).
func sameAsClean(t *testing.T, db, clean string) {
	t.Helper()
	out := exportTree(t, db, "/out")
	if d, err := exec.Command("diff", "-r", clean, out).CombinedOutput(); err != nil {
		t.Fatalf("tree after the re-run differs from a clean run's: %v\n%.3000s", err, d)
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// smallDisk mounts a tmpfs of size bytes for the test; grow remounts it.
type smallDisk struct{ dir string }

func newSmallDisk(t *testing.T, size int64) smallDisk {
	t.Helper()
	needFUSE(t) // root: mounts
	d := smallDisk{dir: filepath.Join(t.TempDir(), "disk")}
	os.MkdirAll(d.dir, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", d.dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(d.dir, syscall.MNT_DETACH) })
	return d
}

func (d smallDisk) grow(t *testing.T, size int64) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,size="+strconv.FormatInt(size, 10), d.dir).CombinedOutput(); err != nil {
		t.Fatalf("remount tmpfs: %v %s", err, out)
	}
}

// TestDiskFull: a database on a filesystem too small for it, with the
// guard off (--min-free 0), stops with exit 4 and a line saying the disk
// is full; after the filesystem grows, a re-run finishes and the tree
// equals a clean run's. Three sizes put the full disk in three places:
// Badger's headroom when the database opens, ffmpeg's write of a clip
// larger than what is left, and Badger's headroom at a chunk's commit.
func TestDiskFull(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in")
	if out, err := exec.Command("cp", "-a", noisyInput(t), in).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	// first in path order: one clip bigger than Badger's headroom
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=6,noise=alls=40:allf=t",
		"-c:v", "libx264", "-preset", "ultrafast", "-threads", "1", filepath.Join(in, "big.mp4"))
	cleanDB, clean := cleanRun(t, in, "--generate-previews")
	media := dirBytes(t, filepath.Join(cleanDB, "blobs"))
	var biggest int64
	filepath.Walk(filepath.Join(cleanDB, "blobs"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			biggest = max(biggest, fi.Size())
		}
		return nil
	})
	t.Logf("a clean run stores %d bytes of blobs, the largest %d", media, biggest)
	const headroom = 8 << 20 // index.Headroom
	for _, c := range []struct {
		size  int64
		where string // in the line that says the disk is full
	}{
		{headroom / 2, "Badger needs"},                                    // at open
		{max(headroom+1<<20, biggest*3/4), "transcode failed: disk full"}, // the big clip does not fit
		{headroom + biggest + 1<<20, "index: commit"},                     // it fits; a later chunk's commit finds < headroom
	} {
		t.Run(strconv.FormatInt(c.size>>10, 10)+"KiB", func(t *testing.T) {
			disk := newSmallDisk(t, c.size)
			db := filepath.Join(disk.dir, "db")
			r := mustClipfs(t, 4, "curate", "--input", in, "--db", db, "--generate-previews", "--min-free", "0", "--workers", "1")
			lower := strings.ToLower(r.stderr)
			if !strings.Contains(lower, "disk full") && !strings.Contains(lower, "no space left") {
				t.Fatalf("no line saying the disk is full:\n%s", r.stderr)
			}
			full := ""
			for _, line := range strings.Split(r.stderr, "\n") {
				if strings.Contains(line, "not finished") || strings.Contains(line, "Badger needs") {
					full = line
					break
				}
			}
			t.Logf("full at %d KiB: %s", c.size>>10, full)
			if !strings.Contains(full, c.where) {
				t.Errorf("the disk filled elsewhere than expected (%q):\n%s", c.where, r.stderr)
			}
			if strings.Contains(r.stderr, "clip not transcoded") || strings.Contains(r.stderr, "preview failed") {
				t.Errorf("a full disk was taken for a bad clip:\n%s", r.stderr)
			}
			disk.grow(t, 1<<30)
			mustClipfs(t, 0, "curate", "--input", in, "--db", db, "--generate-previews", "--min-free", "0")
			sameAsClean(t, db, clean)
			if out, err := exec.Command(binPath, "curate", "--input", in, "--db", db, "--generate-previews").CombinedOutput(); err != nil ||
				!strings.Contains(string(out), "4 up to date") {
				t.Errorf("third run: %v %s", err, out)
			}
		})
	}
}

// TestMinFree: the guard stops curation with exit 4 while the disk still
// has room, naming the free space and the limit, and a re-run with room
// finishes it.
func TestMinFree(t *testing.T) {
	in := noisyInput(t)
	_, clean := cleanRun(t, in)
	disk := newSmallDisk(t, 64<<20)
	db := filepath.Join(disk.dir, "db")
	r := mustClipfs(t, 4, "curate", "--input", in, "--db", db, "--min-free", "60MiB")
	if !strings.Contains(r.stderr, "below --min-free 60.0 MiB") || !strings.Contains(r.stderr, "MiB free on the database's filesystem") {
		t.Fatalf("no line stating free space and limit:\n%s", r.stderr)
	}
	var st syscall.Statfs_t
	syscall.Statfs(disk.dir, &st)
	if free := st.Bavail * uint64(st.Bsize); free < 50<<20 {
		t.Errorf("the guard let the disk fill: %d bytes free", free)
	}
	mustClipfs(t, 0, "curate", "--input", in, "--db", db, "--min-free", "1MiB")
	sameAsClean(t, db, clean)
}

// TestFFmpegKilled: ffmpeg killed with SIGKILL at random moments (what the
// OOM killer does), three seeds: exit 4, never a clip recorded as failed,
// and a re-run gives the clean tree.
func TestFFmpegKilled(t *testing.T) {
	in := noisyInput(t)
	_, clean := cleanRun(t, in, "--generate-previews")
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			db := filepath.Join(t.TempDir(), "db")
			cmd := exec.Command(binPath, "curate", "--input", in, "--db", db, "--generate-previews", "--workers", "1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			// Three kills, each at a random moment: wait a random while, then
			// kill the first ffmpeg seen (they run back to back: --workers 1
			// on three videos with previews).
			kills := 0
			deadline := time.Now().Add(2 * time.Minute)
		loop:
			for kills < 3 && time.Now().Before(deadline) {
				select {
				case <-done:
					break loop
				case <-time.After(time.Duration(50+rng.IntN(400)) * time.Millisecond):
				}
				for killed := false; !killed && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					select {
					case <-done:
						break loop
					default:
					}
					for _, pid := range childrenNamed(cmd.Process.Pid, "ffmpeg") {
						if syscall.Kill(pid, syscall.SIGKILL) == nil {
							kills, killed = kills+1, true
							break
						}
					}
				}
			}
			<-done
			code := cmd.ProcessState.ExitCode()
			t.Logf("seed %d: %d ffmpeg processes killed, exit %d", seed, kills, code)
			if kills == 0 {
				t.Fatal("the run ended before any ffmpeg could be killed")
			}
			if code != 4 || !strings.Contains(stderr.String(), "killed by signal") {
				t.Fatalf("exit %d after killing ffmpeg, want 4 and a line naming the signal:\n%s", code, stderr.String())
			}
			if strings.Contains(stderr.String(), "clip not transcoded") || strings.Contains(stderr.String(), "preview failed") {
				t.Errorf("a killed ffmpeg was recorded as the clip's failure:\n%s", stderr.String())
			}
			mustClipfs(t, 0, "curate", "--input", in, "--db", db, "--generate-previews")
			sameAsClean(t, db, clean)
		})
	}
}

// childrenNamed lists the child processes of parent whose command is name,
// from /proc (no pgrep: a minimal Debian has no procps).
func childrenNamed(parent int, name string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		open, close := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(b[close+1:]))
		if len(f) > 1 && string(b[open+1:close]) == name && f[1] == strconv.Itoa(parent) {
			pids = append(pids, pid)
		}
	}
	return pids
}
