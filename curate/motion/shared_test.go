package motion

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeWithFramesIsDecode: the motion result of the shared pass is
// Decode's, error included, on clips that sample to the end, stop early,
// are too small, have no motion or are not videos; every wanted frame the
// clip has is passed, in order, and the pass stops where it is told to.
func TestDecodeWithFramesIsDecode(t *testing.T) {
	ffmpeg := ffmpegPath(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mp4")
	os.WriteFile(garbage, []byte(strings.Repeat("not a video\n", 300)), 0o644)
	paths := []string{
		filepath.Join("testdata", "mandelbrot_256x256_10fps.mp4"),
		filepath.Join("testdata", "scroll_512x256_25fps.mp4"),
		filepath.Join("testdata", "testsrc2_400x300_2997fps.mp4"),
		garbage,
		filepath.Join(dir, "missing.mp4"),
	}
	for _, c := range []struct {
		name string
		clip clip
	}{
		{"long.mp4", clip{source: "testsrc2=size=320x256:rate=25", seconds: "12"}},
		{"small.mp4", clip{source: "testsrc2=size=320x240:rate=25", seconds: "2"}},
		{"intra.mp4", clip{source: "testsrc2=size=320x256:rate=25", seconds: "3", x264: []string{"-g", "1"}}},
	} {
		p := filepath.Join(dir, c.name)
		c.clip.make(t, ffmpeg, p)
		paths = append(paths, p)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			want, wantErr := Decode(p)
			frames := []int{0, 1, 7, 40, 41, 150, 299, 1000000}
			var got []int
			var moreCalls int
			d, err := DecodeWithFrames(context.Background(), p, frames, func(d Decoded, err error) bool {
				moreCalls++
				if !reflect.DeepEqual(d, want) || !sameError(err, wantErr) {
					t.Errorf("more told %+v, %v; Decode gives %+v, %v", summary(d), err, summary(want), wantErr)
				}
				return true
			}, func(i int, pic Picture) bool {
				got = append(got, i)
				if pic.Plain && (len(pic.Y) < pic.Width*pic.Height || len(pic.U) < pic.Width*pic.Height/4) {
					t.Errorf("frame %d: planes too short for %dx%d", i, pic.Width, pic.Height)
				}
				return true
			})
			if !reflect.DeepEqual(d, want) || !sameError(err, wantErr) {
				t.Fatalf("DecodeWithFrames = %+v, %v; Decode = %+v, %v", summary(d), err, summary(want), wantErr)
			}
			if moreCalls != 1 {
				t.Errorf("more called %d times", moreCalls)
			}
			total, _ := decodeAll(p, false)
			var expect []int
			for _, f := range frames {
				if f < total {
					expect = append(expect, f)
				}
			}
			if !reflect.DeepEqual(got, expect) {
				t.Errorf("frames passed %v, want %v of %d", got, expect, total)
			}
			// told to stop: no frame after the motion result
			got = nil
			DecodeWithFrames(context.Background(), p, []int{1000000}, func(Decoded, error) bool { return false },
				func(i int, _ Picture) bool { got = append(got, i); return true })
			if len(got) != 0 {
				t.Errorf("frames %v passed after more said no", got)
			}
		})
	}
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error() && errors.Is(a, ErrDecodeFailed) == errors.Is(b, ErrDecodeFailed)
}

// summary leaves the vectors out of a Decoded, for messages.
func summary(d Decoded) Decoded { d.Frames = d.Frames[:0:0]; return d }
