package motion

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ffmpegPath returns the ffmpeg binary that makes test clips; without one the
// test is skipped, except in CI (env CI non-empty) where it fails.
func ffmpegPath(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs ffmpeg: %v", err)
		}
		t.Skip(err)
	}
	return path
}

// clip describes a synthetic H.264 clip made with ffmpeg's lavfi sources.
type clip struct {
	source  string   // lavfi graph, e.g. "testsrc2=size=640x360:rate=30"
	seconds string   // duration
	x264    []string // extra encoder arguments
}

// make writes the clip to path with libx264 (preset medium, as clips are cut).
func (c clip) make(t testing.TB, ffmpeg, path string) {
	t.Helper()
	args := []string{"-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", c.source, "-t", c.seconds,
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-threads", "1"}
	args = append(append(args, c.x264...), "file:"+path)
	if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", filepath.Base(path), err, out)
	}
}

func TestDecodeScores(t *testing.T) {
	ffmpeg := ffmpegPath(t)
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name      string
		clip      clip
		small     bool
		minGlobal float64 // lower bound of GlobalMean when moving
	}{
		{"blue still", clip{source: "color=c=blue:size=320x256:rate=25", seconds: "3"}, true, 0},
		{"colour bars", clip{source: "smptebars=size=640x360:rate=30", seconds: "3"}, true, 0},
		// 1% of 640 pixels a frame: about 6.4/(640+360) a frame, more for B-frames.
		{"scrolling test pattern", clip{source: "testsrc2=size=640x360:rate=30,scroll=h=0.01", seconds: "4"}, false, 0.004},
		{"panning crop", clip{source: "testsrc2=size=960x360:rate=25,crop=w=640:h=360:x='mod(t*200,320)':y=0", seconds: "3"}, false, 0.002},
		{"zooming mandelbrot", clip{source: "mandelbrot=size=320x256:rate=25", seconds: "4"}, false, 0.001},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, strconv.Itoa(i)+".mp4")
			tc.clip.make(t, ffmpeg, path)
			d, err := Decode(path)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			s := Compute(d)
			t.Logf("%d frames with vectors of %d decoded: %+v", len(d.Frames), d.Decoded, s)
			if got := s.Small(DefaultThresholds()); got != tc.small {
				t.Errorf("score %+v: Small = %v, want %v", s, got, tc.small)
			}
			if tc.small && (s.GlobalMean > 1e-5 || s.PerPatchMin256 > 1e-5) {
				t.Errorf("still clip scores %+v, want about 0", s)
			}
			if !tc.small && s.GlobalMean < tc.minGlobal {
				t.Errorf("GlobalMean = %v, want at least %v", s.GlobalMean, tc.minGlobal)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	ffmpeg := ffmpegPath(t)
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mp4")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a video at all\n", 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	audio := filepath.Join(dir, "audio.m4a")
	if out, err := exec.Command(ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1",
		"-c:a", "aac", "file:"+audio).CombinedOutput(); err != nil {
		t.Fatalf("make audio: %v\n%s", err, out)
	}
	tests := []struct {
		name     string
		clip     *clip // made at path when set
		path     string
		want     error
		reason   string
		suffix   string // libav's message
		width    int    // of Decoded, when the frame was seen
		sampled0 bool
	}{
		{"320x240", &clip{source: "testsrc2=size=320x240:rate=25", seconds: "2"}, "small.mp4",
			ErrResolutionTooSmall, "resolution_too_small", "", 320, true},
		{"256x240", &clip{source: "testsrc2=size=256x240:rate=25", seconds: "2"}, "short.mp4",
			ErrResolutionTooSmall, "resolution_too_small", "", 256, true},
		{"240x320 portrait", &clip{source: "testsrc2=size=240x320:rate=25", seconds: "2"}, "narrow.mp4",
			ErrResolutionTooSmall, "resolution_too_small", "", 240, true},
		{"all intra", &clip{source: "testsrc2=size=320x256:rate=25", seconds: "3", x264: []string{"-g", "1"}}, "intra.mp4",
			ErrNoMotionFrames, "no_motion_frames", "", 320, true},
		{"garbage", nil, garbage, ErrDecodeFailed, "decode_failed", "Invalid data found when processing input", 0, false},
		{"missing file", nil, filepath.Join(dir, "nothing here.mp4"), ErrDecodeFailed, "decode_failed", "No such file or directory", 0, false},
		{"audio only", nil, audio, ErrDecodeFailed, "decode_failed", "Stream not found", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path
			if tc.clip != nil {
				path = filepath.Join(dir, tc.path)
				tc.clip.make(t, ffmpeg, path)
			}
			d, err := Decode(path)
			if !errors.Is(err, tc.want) || Reason(err) != tc.reason {
				t.Fatalf("Decode = %v (reason %q), want %v", err, Reason(err), tc.want)
			}
			if !strings.HasSuffix(err.Error(), tc.suffix) || !strings.HasPrefix(err.Error(), "motion: ") {
				t.Errorf("error %q, want it to end with %q", err, tc.suffix)
			}
			if d.Width != tc.width || (d.Decoded > 0) != tc.sampled0 {
				t.Errorf("Decoded = %dx%d after %d frames, want width %d", d.Width, d.Height, d.Decoded, tc.width)
			}
			if len(d.Frames) != 0 || Compute(d) != Missing() {
				t.Errorf("failed decode kept %d frames", len(d.Frames))
			}
		})
	}
}

func TestDecodeSampling(t *testing.T) {
	ffmpeg := ffmpegPath(t)
	t.Parallel()
	// 30 fps for 12 s: every 15th frame, at most max(10, 12) = 12 frames with
	// vectors. One I-frame (frame 0) without scene cuts: frames 15 to 180.
	path := filepath.Join(t.TempDir(), "12s.mp4")
	clip{source: "testsrc2=size=320x256:rate=30", seconds: "12", x264: []string{"-x264-params", "keyint=1000:scenecut=0"}}.
		make(t, ffmpeg, path)
	d, err := Decode(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Frames) != 12 || d.Decoded != 181 || d.FrameRate != 30 || d.Width != 320 || d.Height != 256 {
		t.Errorf("Decode: %d frames with vectors of %d decoded, %v fps, %dx%d; want 12 of 181, 30 fps, 320x256",
			len(d.Frames), d.Decoded, d.FrameRate, d.Width, d.Height)
	}
	checkVectors(t, d)
	all, err := decodeAll(path, true)
	if err != nil || all != 360 {
		t.Errorf("decodeAll = %d, %v; want 360 frames", all, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := DecodeContext(ctx, path); !errors.Is(err, context.Canceled) || Reason(err) != "decode_failed" {
		t.Errorf("DecodeContext(cancelled) = %v", err)
	}
}

// checkVectors asserts H.264's invariants: quarter-pixel scale, one of the
// four block sizes, predicted from the past or the future, dst at a block
// centre of the macroblock grid (which may overhang the frame by up to 15
// pixels), src = dst + motion/scale.
func checkVectors(t *testing.T, d Decoded) {
	t.Helper()
	codedW, codedH := (d.Width+15)/16*16, (d.Height+15)/16*16
	bad := 0
	for i, f := range d.Frames {
		if len(f) == 0 {
			t.Errorf("frame %d has side data without vectors", i)
		}
		for _, v := range f {
			w, h := int(v.W), int(v.H)
			x0, y0 := int(v.DstX)-w/2, int(v.DstY)-h/2
			ok := v.Scale == 4 && (v.Source == -1 || v.Source == 1) &&
				(w == 8 || w == 16) && (h == 8 || h == 16) &&
				x0 >= 0 && y0 >= 0 && x0%w == 0 && y0%h == 0 && x0+w <= codedW && y0+h <= codedH &&
				int(v.SrcX) == int(v.DstX)+int(v.MotionX)/4 && int(v.SrcY) == int(v.DstY)+int(v.MotionY)/4
			if !ok && bad < 5 {
				t.Errorf("frame %d: vector %+v breaks H.264's invariants", i, v)
			}
			if !ok {
				bad++
			}
		}
	}
}

func TestDecodeNoLeak(t *testing.T) {
	ffmpeg := ffmpegPath(t)
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/statm")
	}
	path := filepath.Join(t.TempDir(), "leak.mp4")
	clip{source: "testsrc2=size=320x256:rate=25", seconds: "2"}.make(t, ffmpeg, path)
	decodeMany := func(n int) {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for range n / 2 {
					if _, err := Decode(path); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		runtime.GC()
		debug.FreeOSMemory()
	}
	decodeMany(20)
	before := residentBytes(t)
	decodeMany(200)
	after := residentBytes(t)
	t.Logf("resident %d MiB after 20 decodes, %d MiB after 200 more", before>>20, after>>20)
	// A leaked decoder holds its frame pool: 200 leaks would be far above this.
	if grown := after - before; grown > 16<<20 {
		t.Errorf("resident memory grew by %d MiB over 200 decodes", grown>>20)
	}
}

// residentBytes is this process's resident set size.
func residentBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

func TestPlanSampling(t *testing.T) {
	const us = avTimeBase
	tests := []struct {
		name string
		s    streamInfo
		want samplePlan
	}{
		{"30 fps, 12 s", streamInfo{avgRate: [2]int64{30, 1}, containerDuration: 12 * us, hasContainerDuration: true},
			samplePlan{30, 15, 12}},
		{"duration truncated to seconds", streamInfo{avgRate: [2]int64{30, 1}, containerDuration: 12999999, hasContainerDuration: true},
			samplePlan{30, 15, 12}},
		{"25 fps: 12.5 rounds to even", streamInfo{avgRate: [2]int64{25, 1}, containerDuration: 21 * us, hasContainerDuration: true},
			samplePlan{25, 12, 21}},
		{"29.97 fps", streamInfo{avgRate: [2]int64{30000, 1001}, containerDuration: 4 * us, hasContainerDuration: true},
			samplePlan{30000.0 / 1001, 15, 10}},
		{"3 fps: 1.5 rounds to 2", streamInfo{avgRate: [2]int64{3, 1}, containerDuration: 40 * us, hasContainerDuration: true},
			samplePlan{3, 2, 40}},
		{"1 fps: 0.5 rounds to 0, step 1", streamInfo{avgRate: [2]int64{1, 1}, containerDuration: 5 * us, hasContainerDuration: true},
			samplePlan{1, 1, 10}},
		{"no average rate: r_frame_rate", streamInfo{avgRate: [2]int64{0, 1}, baseRate: [2]int64{50, 1}},
			samplePlan{50, 25, 30}},
		{"no rate at all: 30", streamInfo{avgRate: [2]int64{0, 0}, baseRate: [2]int64{0, 0}}, samplePlan{30, 15, 30}},
		{"stream duration times int(time base) is 0", streamInfo{avgRate: [2]int64{24, 1}, duration: 900000, hasDuration: true,
			timeBase: [2]int64{1, 90000}, containerDuration: 11 * us, hasContainerDuration: true}, samplePlan{24, 12, 11}},
		{"time base of whole seconds counts", streamInfo{avgRate: [2]int64{24, 1}, duration: 14, hasDuration: true,
			timeBase: [2]int64{1, 1}, containerDuration: 11 * us, hasContainerDuration: true}, samplePlan{24, 12, 14}},
		{"under a second: 30 s assumed", streamInfo{avgRate: [2]int64{24, 1}, containerDuration: 900000, hasContainerDuration: true},
			samplePlan{24, 12, 30}},
	}
	for _, tc := range tests {
		if got := planSampling(tc.s); got != tc.want {
			t.Errorf("%s: planSampling = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
