package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binPath  string // the clipfs binary built for this run
	repoRoot string
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	repoRoot = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "clipfs-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "clipfs")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/clipfs")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building clipfs: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips (or, in CI, fails) when a prerequisite is missing.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing; CI must provide it", what)
	}
	t.Skipf("%s is missing", what)
}

func needMedia(t *testing.T) {
	_, err1 := exec.LookPath("ffmpeg")
	_, err2 := exec.LookPath("ffprobe")
	need(t, err1 == nil && err2 == nil, "ffmpeg/ffprobe")
}

func needFUSE(t *testing.T) {
	_, err := os.Stat("/dev/fuse")
	need(t, err == nil && os.Geteuid() == 0, "/dev/fuse (as root)")
}

const python = "/usr/bin/python3"

func needNumpy(t *testing.T) {
	err := exec.Command(python, "-c", "import numpy").Run()
	need(t, err == nil, python+" with numpy")
}

// result is a finished clipfs run.
type result struct {
	code   int
	stderr string
}

func clipfs(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("clipfs %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stderr: stderr.String()}
}

// mustClipfs runs clipfs and fails unless it exits with code.
func mustClipfs(t *testing.T, code int, args ...string) result {
	t.Helper()
	r := clipfs(t, args...)
	if r.code != code {
		t.Fatalf("clipfs %s: exit %d, want %d\n%s", strings.Join(args, " "), r.code, code, r.stderr)
	}
	return r
}

var samples = map[string]*sampleSet{}
var samplesMu sync.Mutex

type sampleSet struct {
	once sync.Once
	dir  string
	err  error
}

// sampleVideos makes (once per run) the sample videos of test/make-samples.sh.
func sampleVideos(t *testing.T, small bool) string {
	t.Helper()
	needMedia(t)
	key := fmt.Sprint(small)
	samplesMu.Lock()
	s := samples[key]
	if s == nil {
		s = &sampleSet{}
		samples[key] = s
	}
	samplesMu.Unlock()
	s.once.Do(func() {
		s.dir, s.err = os.MkdirTemp("", "clipfs-samples")
		args := []string{filepath.Join(repoRoot, "test", "make-samples.sh"), s.dir}
		if small {
			args = append(args, "--small")
		}
		if out, err := exec.Command("bash", args...).CombinedOutput(); err != nil {
			s.err = fmt.Errorf("make-samples: %v\n%s", err, out)
		}
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.dir
}

// copyTree copies the sample videos so a test may add or change files.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "videos")
	if out, err := exec.Command("cp", "-a", src+"/.", dst+"/").CombinedOutput(); err != nil {
		os.MkdirAll(dst, 0o755)
		if out, err = exec.Command("cp", "-a", src+"/.", dst+"/").CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	return dst
}

// mounted is a running `clipfs mount`.
type mounted struct {
	cmd    *exec.Cmd
	dir    string
	stderr *bytes.Buffer
	done   chan struct{}
}

func isMounted(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.ReplaceAll(f[4], `\040`, " ") == dir {
			return true
		}
	}
	return false
}

// mount serves db at a new mountpoint until the test ends, then stops it
// with SIGTERM and checks it exits 0 and leaves nothing mounted.
func mount(t *testing.T, db string, extra ...string) *mounted {
	t.Helper()
	needFUSE(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(dir, 0o755)
	return mountAt(t, db, dir, extra...)
}

func mountAt(t *testing.T, db, dir string, extra ...string) *mounted {
	t.Helper()
	return mountWith(t, dir, append([]string{"mount", "--db", db, dir}, extra...)...)
}

// mountWith runs clipfs with args, a mount at dir, until the test ends.
func mountWith(t *testing.T, dir string, args ...string) *mounted {
	t.Helper()
	m := &mounted{dir: dir, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	m.cmd = exec.Command(binPath, args...)
	m.cmd.Stderr = m.stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for !isMounted(dir) {
		select {
		case <-m.done:
			t.Fatalf("clipfs mount exited early (%d): %s", m.cmd.ProcessState.ExitCode(), m.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.cmd.Process.Kill()
			t.Fatalf("mount did not appear: %s", m.stderr)
		}
	}
	t.Cleanup(func() { m.stop(t) })
	return m
}

func (m *mounted) stop(t *testing.T) {
	t.Helper()
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		m.cmd.Process.Kill()
		syscall.Unmount(m.dir, syscall.MNT_DETACH)
		t.Fatalf("clipfs mount did not stop on SIGTERM: %s", m.stderr)
	}
	if code := m.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("clipfs mount exited %d after SIGTERM: %s", code, m.stderr)
	}
	if isMounted(m.dir) {
		syscall.Unmount(m.dir, syscall.MNT_DETACH)
		t.Errorf("%s still mounted after clipfs mount exited", m.dir)
	}
}

// pyJSON runs a Python program and decodes what it prints as JSON.
func pyJSON(t *testing.T, v any, program string, args ...string) {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-c", program}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("python output: %v\n%s", err, out)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func workers() string { return fmt.Sprint(runtime.NumCPU()) }
