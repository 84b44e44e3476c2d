package curate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
	"testing"
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
		{"min-free guard", fmt.Errorf("%w: 10 MiB free", ErrDiskFull), true, true},
		{"ffmpeg says no space", errors.New("Error closing file : No space left on device"), true, true},
		{"out of memory", errors.New("cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY"), true, false},
		{"a bad video", &MediaError{Path: "/v.mp4", Reason: "not a readable video: moov atom not found"}, false, false},
		{"a rejected transcode", &MediaError{Path: "/v.mp4", Reason: "transcode failed: Invalid data found when processing input", Err: exit1}, false, false},
		{"an EnvError", &EnvError{Path: "/v.mp4", Cause: "disk full: x", DiskFull: true}, true, true},
	} {
		cause, full, env := environmental(c.err)
		if env != c.env || full != c.diskFull {
			t.Errorf("%s (%v): environmental = %q, diskFull %t, env %t; want env %t, diskFull %t", c.name, c.err, cause, full, env, c.env, c.diskFull)
		}
		if env && cause == "" {
			t.Errorf("%s: no cause", c.name)
		}
		if ee := asEnvError("/v.mp4", c.err); (ee != nil) != c.env || (ee != nil && ee.Path != "/v.mp4") {
			t.Errorf("%s: asEnvError = %v", c.name, ee)
		}
	}
}

func TestToolFailureKinds(t *testing.T) {
	killed := exec.Command("sh", "-c", "kill -9 $$").Run()
	exit1 := exec.Command("sh", "-c", "exit 1").Run()
	var ee *EnvError
	var me *MediaError
	noSpace := &stderrCapture{}
	noSpace.Write([]byte("[mp4 @ 0x1] Error writing trailer\nError closing file out.mp4: No space left on device\n"))
	if err := toolFailure("/v.mp4", "transcode failed", noSpace, exit1); !errors.As(err, &ee) || !ee.DiskFull {
		t.Errorf("ffmpeg out of space = %v, want an *EnvError with DiskFull", err)
	}
	if err := toolFailure("/v.mp4", "transcode failed", &stderrCapture{}, killed); !errors.As(err, &ee) || ee.DiskFull {
		t.Errorf("ffmpeg killed = %v, want an *EnvError", err)
	}
	bad := &stderrCapture{}
	bad.Write([]byte("/v.mp4: Invalid data found when processing input\n"))
	if err := toolFailure("/v.mp4", "transcode failed", bad, exit1); !errors.As(err, &me) || errors.As(err, &ee) {
		t.Errorf("ffmpeg rejecting the input = %v, want a *MediaError", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1GiB": 1 << 30, "500MB": 500e6, "64M": 64 << 20, "1.5GiB": 3 << 29, "4096": 4096, "10 KiB": 10 << 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1GiB", "GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) took it", in)
		}
	}
}
