package fault_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
	"testing"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
)

func TestEnvironmentalTellsFaultsApart(t *testing.T) {
	killed := exec.Command("sh", "-c", "kill -9 $$").Run()
	exit1 := exec.Command("sh", "-c", "exit 1").Run()
	_, missing := exec.LookPath("no-such-tool-clipfs")
	for _, c := range []struct {
		name     string
		err      error
		env      bool
		diskFull bool
	}{
		{"ENOSPC wrapped", fmt.Errorf("index: commit: %w", &fs.PathError{Op: "write", Path: "/db/x", Err: syscall.ENOSPC}), true, true},
		{"EDQUOT", syscall.EDQUOT, true, true},
		{"EIO", &fs.PathError{Op: "read", Path: "/db/blobs/x", Err: syscall.EIO}, true, false},
		{"EROFS", syscall.EROFS, true, false},
		{"killed by a signal", killed, true, false},
		{"exit status 1", exit1, false, false},
		{"tool missing", missing, true, false},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), true, false},
		{"min-free guard", fmt.Errorf("%w: 10 MiB free", fault.ErrDiskFull), true, true},
		{"ffmpeg says no space", errors.New("Error closing file : No space left on device"), true, true},
		{"out of memory", errors.New("cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY"), true, false},
		{"a bad video", &media.MediaError{Path: "/v.mp4", Reason: "not a readable video: moov atom not found"}, false, false},
		{"a rejected transcode", &media.MediaError{Path: "/v.mp4", Reason: "transcode failed: Invalid data found when processing input", Err: exit1}, false, false},
		{"an EnvError", &fault.EnvError{Path: "/v.mp4", Cause: "disk full: x", DiskFull: true}, true, true},
		{"an object store down", &fs.PathError{Op: "read", Path: "metas/v0/x.json", Err: storeErr{true}}, true, false},
		{"an object store's missing object", fmt.Errorf("x: %w", storeErr{false}), false, false},
	} {
		cause, full, env := fault.Classify(c.err)
		if env != c.env || full != c.diskFull {
			t.Errorf("%s (%v): environmental = %q, diskFull %t, env %t; want env %t, diskFull %t", c.name, c.err, cause, full, env, c.env, c.diskFull)
		}
		if env && cause == "" {
			t.Errorf("%s: no cause", c.name)
		}
		if ee := fault.AsEnv("/v.mp4", c.err); (ee != nil) != c.env || (ee != nil && ee.Path != "/v.mp4") {
			t.Errorf("%s: asEnvError = %v", c.name, ee)
		}
	}
}

// storeErr is an outside service's error that says whether it is
// unavailable, as index/s3store's do.
type storeErr struct{ down bool }

func (e storeErr) Error() string {
	if e.down {
		return "s3store: get s3://b/k: the server did not answer, after 3 tries"
	}
	return "s3store: get s3://b/k: no such object (NoSuchKey, HTTP 404)"
}
func (e storeErr) Unavailable() bool { return e.down }

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1GiB": 1 << 30, "500MB": 500e6, "64M": 64 << 20, "1.5GiB": 3 << 29, "4096": 4096, "10 KiB": 10 << 10} {
		if got, err := fault.ParseSize(in); err != nil || got != want {
			t.Errorf("fault.ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1GiB", "GiB"} {
		if _, err := fault.ParseSize(in); err == nil {
			t.Errorf("fault.ParseSize(%q) took it", in)
		}
	}
}
