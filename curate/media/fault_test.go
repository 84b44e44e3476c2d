package media

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/clipfs/clipfs/curate/fault"
)

func TestToolFailureKinds(t *testing.T) {
	killed := exec.Command("sh", "-c", "kill -9 $$").Run()
	exit1 := exec.Command("sh", "-c", "exit 1").Run()
	var ee *fault.EnvError
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
