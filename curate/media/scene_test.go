package media

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clipfs/clipfs/curate/plan"
)

// hsvOf is the HSV that the scoring pass gives one BGR pixel.
func hsvOf(b, g, r byte) (h, s, v int) {
	hsv := make([]byte, 3)
	scoreHSV(hsv, hsv, []byte{b, g, r})
	return int(hsv[0]), int(hsv[1]), int(hsv[2])
}

func TestHSVHandWorked(t *testing.T) {
	// Worked by hand from OpenCV's formula: sdiv[255] = 4096, sdiv[200] =
	// round(5222.4) = 5222, hdiv[255] = round(481.9) = 482, hdiv[150] =
	// round(819.2) = 819.
	tests := []struct {
		name      string
		b, g, r   byte
		h, s, v   int
		reasoning string
	}{
		{"red", 0, 0, 255, 0, 255, 255, "h = g-b = 0; s = (255*4096+2048)>>12 = 255"},
		{"green", 0, 255, 0, 60, 255, 255, "h = (510*482+2048)>>12 = 247868>>12 = 60"},
		{"blue", 255, 0, 0, 120, 255, 255, "h = (1020*482+2048)>>12 = 493688>>12 = 120"},
		{"yellow, red wins the tie", 0, 255, 255, 30, 255, 255, "h = g-b = 255 -> 124958>>12 = 30"},
		{"cyan, green wins the tie", 255, 255, 0, 90, 255, 255, "h = b-r+2*255 = 765 -> 370778>>12 = 90"},
		{"grey", 128, 128, 128, 0, 0, 128, "diff = 0"},
		{"black", 0, 0, 0, 0, 0, 0, "diff = 0"},
		{"white", 255, 255, 255, 0, 0, 255, "diff = 0"},
		{"orange", 50, 100, 200, 10, 191, 200, "h = (50*819+2048)>>12 = 10; s = (150*5222+2048)>>12 = 191"},
		{"crimson, negative hue", 100, 50, 200, 170, 191, 200, "h = (-50*819+2048)>>12 = -10, +180"},
	}
	for _, tc := range tests {
		h, s, v := hsvOf(tc.b, tc.g, tc.r)
		if h != tc.h || s != tc.s || v != tc.v {
			t.Errorf("%s: HSV of (b=%d, g=%d, r=%d) = (%d, %d, %d), want (%d, %d, %d): %s",
				tc.name, tc.b, tc.g, tc.r, h, s, v, tc.h, tc.s, tc.v, tc.reasoning)
		}
	}
	if sdivTable[0] != 0 || hdivTable180[0] != 0 || sdivTable[1] != 255<<12 || hdivTable180[1] != 122880 {
		t.Errorf("tables start %d %d / %d %d", sdivTable[0], sdivTable[1], hdivTable180[0], hdivTable180[1])
	}
}

// openCVHSV is RGB2HSV_b written as plainly as OpenCV writes it.
func openCVHSV(b, g, r int) (h, s, v int) {
	sdiv := func(i int) int { return int(math.Round(float64(255<<12) / float64(i))) }
	hdiv := func(i int) int { return int(math.Round(float64(180<<12) / (6 * float64(i)))) }
	v, vmin := max(b, g, r), min(b, g, r)
	diff := v - vmin
	vr, vg := 0, 0
	if v == r {
		vr = -1
	}
	if v == g {
		vg = -1
	}
	h = (vr & (g - b)) + (^vr & ((vg & (b - r + 2*diff)) + (^vg & (r - g + 4*diff))))
	if diff > 0 { // sdiv[0] = hdiv[0] = 0, and diff = 0 makes h = 0 too
		s = (diff*sdiv(v) + (1 << 11)) >> 12
		h = (h*hdiv(diff) + (1 << 11)) >> 12
	}
	if h < 0 {
		h += 180
	}
	return h, s, v
}

// TestHSVMatchesOpenCVFormula compares the scoring pass with openCVHSV over
// every green and red value for one blue value in five, and checks the score.
func TestHSVMatchesOpenCVFormula(t *testing.T) {
	bgr := make([]byte, 0, 3*256*256)
	for b := 0; b < 256; b += 5 {
		bgr = bgr[:0]
		for g := range 256 {
			for r := range 256 {
				bgr = append(bgr, byte(b), byte(g), byte(r))
			}
		}
		hsv, prev := make([]byte, len(bgr)), bytes.Repeat([]byte{7}, len(bgr))
		score := scoreHSV(hsv, prev, bgr)
		var sum [3]int
		for i := 0; i < len(bgr); i += 3 {
			h, s, v := openCVHSV(int(bgr[i]), int(bgr[i+1]), int(bgr[i+2]))
			if int(hsv[i]) != h || int(hsv[i+1]) != s || int(hsv[i+2]) != v || h >= 180 {
				t.Fatalf("HSV of %v = %v, want [%d %d %d]", bgr[i:i+3], hsv[i:i+3], h, s, v)
			}
			for c, x := range []int{h, s, v} {
				sum[c] += max(x-7, 7-x)
			}
		}
		pixels := float64(len(bgr) / 3)
		if want := (float64(sum[0])/pixels + float64(sum[1])/pixels + float64(sum[2])/pixels) / 3; score != want {
			t.Fatalf("blue %d: score %v, want %v", b, score, want)
		}
	}
}

// solidFrame is a frame of pixels of one BGR colour.
func solidFrame(pixels int, b, g, r byte) []byte {
	return bytes.Repeat([]byte{b, g, r}, pixels)
}

func TestContentDetector(t *testing.T) {
	black, red := solidFrame(4, 0, 0, 0), solidFrame(4, 0, 0, 255)
	// The colour flips between black and red at these frames; each flip
	// scores exactly 170 (dH 0, dS 255, dV 255).
	flips := map[int]bool{10: true, 12: true, 20: true, 25: true, 30: true, 31: true, 40: true, 60: true}
	d := NewContentDetector(170, 15)
	var cuts []int
	current, other := black, red
	for n := range 70 {
		if flips[n] {
			current, other = other, current
		}
		score, cut := d.Push(current)
		if want := map[bool]float64{true: 170, false: 0}[flips[n]]; score != want {
			t.Errorf("frame %d scored %v, want %v", n, score, want)
		}
		if cut {
			cuts = append(cuts, n)
		}
	}
	// 10 and 12 are within 15 frames of frame 0; 25, 30 and 31 within 15 of
	// the cut at 20; 40 is 20 after it; 60 is 20 after 40.
	if want := []int{20, 40, 60}; !reflect.DeepEqual(cuts, want) {
		t.Errorf("cuts = %v, want %v", cuts, want)
	}
	below := NewContentDetector(170.5, 1)
	below.Push(black)
	if _, cut := below.Push(red); cut {
		t.Error("a score below the threshold made a cut")
	}
}

func TestContentDetectorAllocs(t *testing.T) {
	a, b := solidFrame(256*144, 10, 200, 30), solidFrame(256*144, 90, 20, 250)
	d := NewContentDetector(27, 15)
	d.Push(a)
	allocs := testing.AllocsPerRun(20, func() {
		d.Push(b)
		d.Push(a)
	})
	if allocs != 0 {
		t.Errorf("Push allocates %v times per two frames, want 0", allocs)
	}
	// A frame of another size starts afresh instead of comparing.
	if score, cut := d.Push(solidFrame(10, 1, 2, 3)); score != 0 || cut {
		t.Errorf("resized frame = %v, %v, want 0, false", score, cut)
	}
}

func TestSceneDetectDims(t *testing.T) {
	tests := []struct{ width, height, w, h int }{
		{1920, 1080, 256, 144},
		{1280, 720, 256, 144},
		{640, 480, 256, 192},
		{480, 270, 256, 144},
		{1080, 1920, 144, 256},
		{720, 576, 256, 204},
		{320, 240, 256, 192},
		{256, 100, 256, 100},
		{160, 120, 160, 120},
		{4000, 10, 256, 2},
	}
	for _, tc := range tests {
		if w, h := sceneDetectDims(tc.width, tc.height); w != tc.w || h != tc.h {
			t.Errorf("sceneDetectDims(%d, %d) = %dx%d, want %dx%d", tc.width, tc.height, w, h, tc.w, tc.h)
		}
	}
}

// sceneSource is one part of a synthetic test video: a lavfi source (without
// size and rate) shown for a number of frames.
type sceneSource struct {
	filter string
	frames int
}

// sceneVideo describes a synthetic test video made of lavfi sources.
type sceneVideo struct {
	width, height int
	rate          int
	sources       []sceneSource
	// join turns the labelled parts [s0][s1]... into [v]; concat when "".
	join string
}

// write encodes the video at path with libx264.
func (v sceneVideo) write(tb testing.TB, tools Tools, path string) {
	tb.Helper()
	var graph, labels strings.Builder
	size := strconv.Itoa(v.width) + "x" + strconv.Itoa(v.height)
	for i, s := range v.sources {
		sep := "="
		if strings.Contains(s.filter, "=") {
			sep = ":"
		}
		label := "[s" + strconv.Itoa(i) + "]"
		graph.WriteString(s.filter + sep + "size=" + size + ":rate=" + strconv.Itoa(v.rate) +
			",trim=end_frame=" + strconv.Itoa(s.frames) + ",setpts=PTS-STARTPTS,format=yuv420p,setsar=1" + label + ";")
		labels.WriteString(label)
	}
	join := v.join
	if join == "" {
		join = labels.String() + "concat=n=" + strconv.Itoa(len(v.sources)) + ":v=1:a=0[v]"
	}
	graph.WriteString(join)
	out, err := exec.Command(tools.FFmpeg, "-nostdin", "-v", "error", "-y",
		"-filter_complex", graph.String(), "-map", "[v]",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		mediaURL(path)).CombinedOutput()
	if err != nil {
		tb.Fatalf("make scene video %s: %v\n%s", path, err, out)
	}
}

// cutsAndFrames are the first frames of every source but the first, and the
// number of frames, of a video joined with concat.
func (v sceneVideo) cutsAndFrames() (cuts []int, frames int) {
	for i, s := range v.sources {
		if i > 0 {
			cuts = append(cuts, frames)
		}
		frames += s.frames
	}
	return cuts, frames
}

// sceneScores decodes path as DetectCuts does and returns every frame's score.
func sceneScores(tb testing.TB, tools Tools, path string, width, height int) []float64 {
	tb.Helper()
	w, h := sceneDetectDims(width, height)
	d := NewContentDetector(defaultThreshold, 1)
	var scores []float64
	_, err := tools.decodeSceneFrames(context.Background(), File(path), w, h, func(n int, frame []byte) {
		score, _ := d.Push(frame)
		scores = append(scores, score)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return scores
}

// Hard cuts between distinct sources. The life source's first step changes
// most cells (score about 50) one frame after its cut, which MinSceneLen
// hides; the 10-frame testsrc2 shot is shorter than MinSceneLen, so the cut
// that ends it is not reported.
var sceneTestVideos = map[string]sceneVideo{
	"25 fps.mp4": {width: 320, height: 240, rate: 25, sources: []sceneSource{
		{"testsrc2", 40}, {"smptebars", 45}, {"mandelbrot", 40}, {"color=c=0x2060c0", 35},
		{"life=seed=1", 40}, {"cellauto=seed=1:scroll=0", 30}}},
	"30 fps, scaled.mp4": {width: 480, height: 270, rate: 30, sources: []sceneSource{
		{"smptebars", 45}, {"life=seed=1", 50}, {"testsrc2", 35}, {"color=c=0xe0c020", 40}, {"mandelbrot", 30}}},
	"short shot.mp4": {width: 320, height: 240, rate: 25, sources: []sceneSource{
		{"smptebars", 30}, {"testsrc2", 10}, {"mandelbrot", 30}}},
}

func TestDetectCuts(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	dir := t.TempDir()
	for name, video := range sceneTestVideos {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, name)
			video.write(t, tools, path)
			want, wantFrames := video.cutsAndFrames()
			if name == "short shot.mp4" {
				want = []int{30}
			}
			cuts, frames, err := tools.DetectCuts(context.Background(), path, video.width, video.height, defaultThreshold, defaultMinSceneLen)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cuts, want) || frames != wantFrames {
				t.Errorf("DetectCuts = %v over %d frames, want %v over %d", cuts, frames, want, wantFrames)
			}
		})
	}
}

// TestDetectCutsSpans runs detected cuts through SceneSpans: the clips are
// the known scenes less the crop (5 frames at each end at 25 fps).
func TestDetectCutsSpans(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	video := sceneTestVideos["25 fps.mp4"]
	path := filepath.Join(t.TempDir(), "v.mp4")
	video.write(t, tools, path)
	cuts, frames, err := tools.DetectCuts(context.Background(), path, video.width, video.height, defaultThreshold, defaultMinSceneLen)
	if err != nil {
		t.Fatal(err)
	}
	p := plan.SceneParams{Threshold: 27, MinSceneLen: 15, MinLength: 0.4, Crop: 0.2}
	var want []plan.Span
	start := 0
	for _, s := range video.sources {
		want = append(want, plan.Span{Start: float64(start+5) / 25, End: float64(start+s.frames-5) / 25, StartFrame: start + 5, EndFrame: start + s.frames - 5})
		start += s.frames
	}
	if got := plan.SceneSpans(cuts, frames, 25, p); !reflect.DeepEqual(got, want) {
		t.Errorf("SceneSpans =\n%v\nwant\n%v", got, want)
	}
}

// TestDetectCutsFadesAndDissolves records what the detector does with
// gradual transitions (scene.go's comment and the README tell it).
func TestDetectCutsFadesAndDissolves(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name       string
		video      sceneVideo
		transition [2]int // frames [from, to) of the transition
		wantCuts   []int
		wantFrames int
		wantHigh   []int // frames of the transition that score 27 or more
	}{
		{"1 s dissolve", sceneVideo{width: 320, height: 240, rate: 25,
			sources: []sceneSource{{"testsrc2", 50}, {"mandelbrot", 75}},
			join:    "[s0][s1]xfade=transition=fade:duration=1:offset=1[v]"},
			[2]int{25, 51}, nil, 100, nil},
		// Nearly black pixels have a hue and saturation that jump about: the
		// first black frame (the fade in's first) and the next one both score
		// about 100, and MinSceneLen hides the second.
		{"1 s fade out to black, 1 s fade in", sceneVideo{width: 320, height: 240, rate: 25,
			sources: []sceneSource{{"testsrc2", 50}, {"mandelbrot", 50}},
			join: "[s0]fade=t=out:start_frame=25:nb_frames=25[a];[s1]fade=t=in:start_frame=0:nb_frames=25[b];" +
				"[a][b]concat=n=2:v=1:a=0[v]"},
			[2]int{25, 75}, []int{50}, 100, []int{50, 51}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tc.name+".mp4")
			tc.video.write(t, tools, path)
			cuts, frames, err := tools.DetectCuts(context.Background(), path, 320, 240, defaultThreshold, defaultMinSceneLen)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cuts, tc.wantCuts) || frames != tc.wantFrames {
				t.Errorf("DetectCuts = %v over %d frames, want %v over %d", cuts, frames, tc.wantCuts, tc.wantFrames)
			}
			scores := sceneScores(t, tools, path, 320, 240)
			var high []int
			for n := tc.transition[0]; n < tc.transition[1]; n++ {
				if scores[n] >= defaultThreshold {
					high = append(high, n)
				}
			}
			if !reflect.DeepEqual(high, tc.wantHigh) {
				t.Errorf("frames %v of the transition score 27 or more, want %v (scores %.1f)",
					high, tc.wantHigh, scores[tc.transition[0]:tc.transition[1]])
			}
		})
	}
}

func TestDetectCutsFailure(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mp4")
	if err := os.WriteFile(garbage, []byte("not a video at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := tools.DetectCuts(context.Background(), garbage, 320, 240, defaultThreshold, defaultMinSceneLen)
	var me *MediaError
	if !errors.As(err, &me) || me.Path != garbage {
		t.Fatalf("DetectCuts = %v, want *MediaError for %s", err, garbage)
	}
	checkReason(t, me.Reason, "scene detection failed: ", garbage)

	if _, _, err := tools.DetectCuts(context.Background(), garbage, 320, 240, 0, 0); err == nil || errors.As(err, &me) {
		t.Errorf("DetectCuts with invalid params = %v, want a plain error", err)
	}
	missing := Tools{FFmpeg: filepath.Join(dir, "no-ffmpeg"), FFprobe: tools.FFprobe}
	if _, _, err := missing.DetectCuts(context.Background(), garbage, 320, 240, defaultThreshold, defaultMinSceneLen); err == nil || errors.As(err, &me) {
		t.Errorf("DetectCuts without ffmpeg = %v, want a plain error", err)
	}
}

func TestDetectCutsCancelled(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	path := filepath.Join(t.TempDir(), "v.mp4")
	video := sceneVideo{width: 320, height: 240, rate: 25, sources: []sceneSource{{"testsrc2", 250}}}
	video.write(t, tools, path)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := tools.DetectCuts(ctx, path, 320, 240, defaultThreshold, defaultMinSceneLen)
	var me *MediaError
	if !errors.Is(err, context.Canceled) || errors.As(err, &me) {
		t.Errorf("DetectCuts with cancelled context = %v, want context.Canceled and no MediaError", err)
	}

	// Cancelled after 10 frames: ffmpeg is stopped and waited for at once.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()
	n, err := tools.decodeSceneFrames(ctx, File(path), 256, 192, func(n int, _ []byte) {
		if n == 9 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("decode cancelled midway = %d, %v, want context.Canceled", n, err)
	}
	if elapsed := time.Since(began); elapsed > 5*time.Second {
		t.Errorf("cancelled decode took %v", elapsed)
	}
}

// The detector settings of PySceneDetect's defaults (plan.DefaultSceneParams).
var defaultThreshold, defaultMinSceneLen = plan.DefaultSceneParams().Threshold, plan.DefaultSceneParams().MinSceneLen
