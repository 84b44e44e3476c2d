package curate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/motion"
)

// TestSharedFramesAreFFmpegs: the frames the motion pass keeps for the
// model stages are byte for byte the ones ffmpeg decodes for them
// (media.Tools.ExtractRGB), on clips transcoded as curate cuts them (BT.601
// and BT.709); a clip whose conversion is not reproduced (full range, a
// BT.2020 matrix, 4:4:4) keeps none, and its frames come from ffmpeg as
// before.
func TestSharedFramesAreFFmpegs(t *testing.T) {
	tools, err := media.DefaultTools()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs ffmpeg: %v", err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	cases := []struct {
		name  string
		args  []string // ffmpeg output arguments of the source
		plain bool
	}{
		{"testsrc2 640x360", []string{"-pix_fmt", "yuv420p"}, true},
		{"mandelbrot 480x270 smpte170m", []string{"-pix_fmt", "yuv420p", "-colorspace", "smpte170m"}, true},
		{"bt709", []string{"-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"}, true},
		{"bt2020", []string{"-pix_fmt", "yuv420p", "-colorspace", "bt2020nc", "-color_primaries", "bt2020", "-color_trc", "bt709"}, false},
		{"full range", []string{"-pix_fmt", "yuvj420p"}, false},
		{"yuv444p", []string{"-pix_fmt", "yuv444p"}, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(dir, fmt.Sprintf("src%d.mp4", i))
			lavfi := "testsrc2=size=640x360:rate=25"
			if i == 1 {
				lavfi = "mandelbrot=size=480x270:rate=24"
			}
			args := append([]string{"-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi, "-t", "3", "-c:v", "libx264"}, tc.args...)
			if out, err := exec.Command(tools.FFmpeg, append(args, src)...).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			clip := filepath.Join(dir, fmt.Sprintf("clip%d.mp4", i))
			if err := tools.Transcode(context.Background(), src, 0.5, 2.5, clip); err != nil {
				t.Fatal(err)
			}
			m, err := media.ProbeMP4(clip)
			if err != nil {
				t.Fatal(err)
			}
			want := []int{0, 1, 13, 24, m.NumFrames - 1}
			rgb := map[int][]byte{}
			motion.DecodeWithFrames(context.Background(), clip, want, func(motion.Decoded, error) bool { return true },
				func(i int, p motion.Picture) bool {
					if !p.Plain {
						return false
					}
					rgb[i] = media.YUV420ToRGB24(p.Width, p.Height, p.Y, p.U, p.V, p.YStride, p.UStride, p.VStride, p.BT709)
					return true
				})
			if !tc.plain {
				if len(rgb) != 0 {
					t.Fatalf("%d frames kept of a clip whose conversion is not reproduced", len(rgb))
				}
				return
			}
			if len(rgb) != len(want) {
				t.Fatalf("%d of %d frames kept", len(rgb), len(want))
			}
			ref, w, h, err := tools.ExtractRGB(context.Background(), clip, m.Width, m.Height, want, max(m.Width, m.Height))
			if err != nil || w != m.Width || h != m.Height {
				t.Fatal(w, h, err)
			}
			for k, f := range want {
				if !bytes.Equal(rgb[f], ref[k]) {
					diff, maxd := 0, 0
					for j := range ref[k] {
						if d := int(rgb[f][j]) - int(ref[k][j]); d != 0 {
							diff++
							maxd = max(maxd, d, -d)
						}
					}
					t.Fatalf("frame %d: %d of %d bytes differ from ffmpeg's (by up to %d)", f, diff, len(ref[k]), maxd)
				}
			}
		})
	}
}
