package media

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestYUVToBGRMatchesSwscale converts every pixel of the first frames of
// test videos from their yuv420p planes and compares with what ffmpeg's
// libswscale gives for the same frames with the filter the BGR24 path uses
// (BT.601, limited range): every byte equal, widths a multiple of 8 or not.
func TestYUVToBGRMatchesSwscale(t *testing.T) {
	tools := mediaTestTools(t)
	for _, v := range []struct {
		name string
		w, h int
	}{{"hardcuts.mp4", 640, 360}, {"oddsize.mp4", 854, 480}, {"roundhalf.mp4", 1024, 578}, {"bigframe.mp4", 1280, 720}} {
		path := filepath.Join("testdata", "scenes", v.name)
		decode := func(args ...string) []byte {
			out, err := exec.Command(tools.FFmpeg, append([]string{"-nostdin", "-v", "error", "-i", path, "-frames:v", "4"}, args...)...).Output()
			if err != nil {
				t.Fatalf("%s: ffmpeg: %v", v.name, err)
			}
			return out
		}
		yuv := decode("-pix_fmt", "yuv420p", "-f", "rawvideo", "-")
		want := decode("-vf", "scale=in_color_matrix=bt601:flags=bicubic:in_range=tv", "-pix_fmt", "bgr24", "-f", "rawvideo", "-")
		frame, rowBytes := v.w*v.h*3/2, v.w*3
		cols := make([]int32, v.w)
		for x := range cols {
			cols[x] = int32(x)
		}
		r := newYUVRows(v.w, v.h, cols)
		n := len(yuv) / frame
		if n == 0 || len(want) != n*v.h*rowBytes {
			t.Fatalf("%s: %d bytes of planes, %d of BGR24", v.name, len(yuv), len(want))
		}
		bad := 0
		for f := range n {
			r.frame = yuv[f*frame:][:frame]
			for y := range v.h {
				got, w := r.get(y), want[(f*v.h+y)*rowBytes:][:rowBytes]
				for i := range got {
					if got[i] != w[i] {
						if bad == 0 {
							t.Errorf("%s frame %d: pixel (%d, %d) channel %d is %d, swscale %d", v.name, f, i/3, y, i%3, got[i], w[i])
						}
						bad++
					}
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d bytes differ", v.name, bad)
		}
	}
}
