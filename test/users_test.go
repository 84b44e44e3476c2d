package test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the second user of these tests (Debian's base-passwd has it in
// every root, minbase included).
const nobodyID = 65534

// asNobody runs a command as nobody and returns its combined output.
func asNobody(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/tmp", "LC_ALL=C"}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// openToAll makes dir and the folders above it (up to the temporary
// folder) searchable by every user, as a mountpoint for other users must be.
func openToAll(t *testing.T, dir string) {
	t.Helper()
	top := filepath.Clean(os.TempDir())
	for d := dir; strings.HasPrefix(d, top+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// curatedWithShard curates the small samples into a fresh database; the
// end of the run seals a shard.
func curatedWithShard(t *testing.T) string {
	t.Helper()
	videos := sampleVideos(t, true)
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", db, "--workers", workers())
	return db
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pyReadAsNobody is run by Debian's Python as nobody: it reads a clip and a
// shard (with tarfile) through the mount and prints what it read, or the
// errno of the first refusal.
const pyReadAsNobody = `
import hashlib, sys, tarfile
clip, shard = sys.argv[1], sys.argv[2]
try:
    with open(clip, "rb") as f:
        print("clip", hashlib.sha256(f.read()).hexdigest())
    with tarfile.open(shard) as tf:
        names = tf.getnames()
        m = tf.getmember(names[0])
        data = tf.extractfile(m).read()
        print("shard", len(names), len(data) == m.size)
except OSError as e:
    print("errno", e.errno)
`

// TestAllowOther: without --allow-other a second user is refused (EACCES)
// by a root mount; with it, they read a clip and a shard with tarfile.
func TestAllowOther(t *testing.T) {
	needFUSE(t)
	needNumpy(t) // Debian's python3
	db := curatedWithShard(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(dir, 0o755)
	openToAll(t, dir)

	first := func(sub, glob string) string {
		m, _ := filepath.Glob(filepath.Join(dir, sub, glob))
		if len(m) == 0 {
			t.Fatalf("no %s/%s in the mount", sub, glob)
		}
		return m[0]
	}

	m := mountAt(t, db, dir)
	clip, shard := first("clips", "*.mp4"), first("wds", "shard-*.tar")
	want := fileSHA256(t, clip)
	out, err := asNobody(t, python, "-c", pyReadAsNobody, clip, shard)
	if err != nil || strings.TrimSpace(out) != fmt.Sprintf("errno %d", syscall.EACCES) {
		t.Errorf("nobody reading a mount made without --allow-other: %v %q, want errno %d (EACCES)", err, out, syscall.EACCES)
	}
	if out, err := asNobody(t, "ls", dir+"/clips"); err == nil {
		t.Errorf("nobody listed clips/ of a mount made without --allow-other: %s", out)
	}
	m.stop(t)

	m = mountAt(t, db, dir, "--allow-other")
	defer m.stop(t)
	out, err = asNobody(t, python, "-c", pyReadAsNobody, clip, shard)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || lines[0] != "clip "+want || !strings.HasPrefix(lines[1], "shard ") || !strings.HasSuffix(lines[1], " True") {
		t.Fatalf("nobody reading with --allow-other: %v\n%s\nwant clip %s and a readable shard", err, out, want)
	}
	t.Logf("as nobody with --allow-other: %s", strings.Join(lines, "; "))
}

// TestNonRootMount: a user other than root mounts a database of their own
// (through fusermount3), lists it, and unmounts it with fusermount3 -u.
func TestNonRootMount(t *testing.T) {
	needFUSE(t)
	_, err := exec.LookPath("fusermount3")
	need(t, err == nil, "fusermount3 (apt-get install fuse3)")
	st, err := os.Stat("/dev/fuse")
	need(t, err == nil && st.Mode().Perm()&0o006 == 0o006, "/dev/fuse readable and writable by every user (mode 0666; scripts/install.sh sets it)")
	db := curatedWithShard(t)
	home := filepath.Join(t.TempDir(), "home")
	dbN, dir := filepath.Join(home, "db"), filepath.Join(home, "mnt")
	os.MkdirAll(dir, 0o755)
	if out, err := exec.Command("cp", "-a", db, dbN).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	os.MkdirAll(dir, 0o755)
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", nobodyID, nobodyID), home).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	openToAll(t, home)
	openToAll(t, filepath.Dir(binPath))

	cmd := exec.Command(binPath, "mount", "--db", dbN, dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + home}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	defer func() {
		if isMounted(dir) {
			exec.Command("umount", "-l", dir).Run()
		}
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for !isMounted(dir) {
		select {
		case <-done:
			t.Fatalf("clipfs mount as nobody exited early (%v): %s", waitErr, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("clipfs mount as nobody: not mounted after 15 s: %s", stderr.String())
		}
	}
	out, err := asNobody(t, "ls", "-l", dir+"/clips")
	if err != nil {
		t.Fatalf("ls as nobody: %v %s", err, out)
	}
	n := strings.Count(out, ".mp4\n")
	if n == 0 {
		t.Fatalf("ls -l clips/ as nobody listed no clips:\n%s", out)
	}
	if out, err := asNobody(t, "fusermount3", "-u", dir); err != nil {
		t.Fatalf("fusermount3 -u as nobody: %v %s", err, out)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("clipfs mount as nobody exited with %v after fusermount3 -u: %s", waitErr, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("clipfs mount as nobody still running 15 s after fusermount3 -u")
	}
	if isMounted(dir) {
		t.Fatal("still mounted after fusermount3 -u")
	}
	t.Logf("nobody mounted their own database, listed %d clips and unmounted it", n)
}

// TestHelpAndFlags: GNU-style help on -h and --help (exit 0), versions,
// and one line with a pointer to the help for unknown flags and commands.
func TestHelpAndFlags(t *testing.T) {
	for _, cmd := range []string{"curate", "mount", "serve", "export", "import", "status", "submit", "seal"} {
		for _, h := range []string{"-h", "--help"} {
			r := mustClipfs(t, 0, cmd, h)
			if !strings.Contains(r.stderr, "\n  --db DIR ") || strings.Contains(r.stderr, "\n  -db") {
				t.Errorf("clipfs %s %s lacks a GNU-style --db DIR line:\n%s", cmd, h, r.stderr)
			}
		}
	}
	if r := mustClipfs(t, 0, "mount", "--help"); !strings.Contains(r.stderr, "--allow-other") {
		t.Errorf("mount --help lacks --allow-other:\n%s", r.stderr)
	}
	r := mustClipfs(t, 0, "--version")
	for _, want := range []string{"clipfs ", "\ngo 1.", "\nffmpeg "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--version lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"curate", "--frobnicate"}, "clipfs curate: unknown flag --frobnicate; see clipfs curate --help"},
		{[]string{"mount", "-x", "--db", "d", "m"}, "clipfs mount: unknown flag --x; see clipfs mount --help"},
		{[]string{"curate", "--workers", "many"}, `clipfs curate: --workers: invalid value "many": not a number; see clipfs curate --help`},
		{[]string{"serve", "--db"}, "clipfs serve: --db needs a value; see clipfs serve --help"},
		{[]string{"frobnicate"}, `clipfs: unknown command "frobnicate"; see clipfs --help`},
		{[]string{"--frobnicate"}, `clipfs: unknown flag "--frobnicate"; see clipfs --help`},
	} {
		r := mustClipfs(t, 2, tc.args...)
		if strings.TrimSpace(r.stderr) != tc.want {
			t.Errorf("clipfs %s: got\n%s\nwant the one line\n%s", strings.Join(tc.args, " "), r.stderr, tc.want)
		}
	}
}
