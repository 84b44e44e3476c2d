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

func TestContentDetectorScores(t *testing.T) {
	black, red := solidFrame(4, 0, 0, 0), solidFrame(4, 0, 0, 255)
	var d ContentDetector
	for n, f := range [][]byte{black, black, red, red, black} {
		want := map[bool]float64{true: 170, false: 0}[n == 2 || n == 4] // dH 0, dS 255, dV 255
		if got := d.Push(f); got != want {
			t.Errorf("frame %d scored %v, want %v", n, got, want)
		}
	}
}

// everyFrame is the times of frames of a constant-rate video at fps.
func everyFrame(frames int, fps float64) []int64 {
	us := make([]int64, frames)
	for n := range us {
		us[n] = int64(math.Round(float64(n) / fps * 1e6))
	}
	return us
}

// TestContentCutsMerge works PySceneDetect's FlashFilter in MERGE mode
// (length 15 frames at 25 fps, 0.6 s) by hand.
func TestContentCutsMerge(t *testing.T) {
	above := func(frames ...int) []float64 {
		s := make([]float64, 120)
		for _, n := range frames {
			s[n] = 30
		}
		return s
	}
	tests := []struct {
		name   string
		scores []float64
		want   []int
	}{
		// 20 is 20 frames after frame 0: a cut. 25 and 30 are closer than
		// 15 frames: merging starts at 25. 50 is 20 frames after 30, but
		// the merge goes on until 15 frames pass with none above (frame
		// 65) and it has lasted 15 frames (50 - 25): its cut is its last
		// frame above, 50. 80 is a cut; the flash at 83 starts a merge that
		// the end of the video leaves pending, so it gives none.
		{"merge", above(20, 25, 30, 50, 80, 83), []int{20, 50, 80}},
		// Nothing before the first cut merges: 10 and 12 are under 15
		// frames from frame 0, then from each other; 40 is 28 after 12.
		{"before the first cut", above(10, 12, 40), []int{40}},
		// A run of frames above the threshold: one cut at its start, the
		// rest merged; the merge ends 15 frames after the run, having
		// lasted long enough, with a cut at the run's last frame.
		{"run", above(30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46), []int{30, 46}},
		{"exactly 15 frames", above(15, 30, 45), []int{15, 30, 45}},
		{"14 frames", above(14, 28), nil},
	}
	for _, tc := range tests {
		got := ContentCuts(tc.scores, everyFrame(len(tc.scores), 25), 25, 27, 15)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: cuts %v, want %v", tc.name, got, tc.want)
		}
	}
	// Frame numbers come from the times: at 30000/1001 fps with times a
	// little late, frame 40's time still rounds to frame 40.
	fps := 30000.0 / 1001
	us := everyFrame(60, fps)
	for n := range us {
		us[n] += 3000
	}
	if got := ContentCuts(above(40)[:60], us, fps, 27, 15); !reflect.DeepEqual(got, []int{40}) {
		t.Errorf("NTSC: cuts %v, want [40]", got)
	}
}

func TestContentDetectorAllocs(t *testing.T) {
	a, b := solidFrame(256*144, 10, 200, 30), solidFrame(256*144, 90, 20, 250)
	var d ContentDetector
	d.Push(a)
	allocs := testing.AllocsPerRun(20, func() {
		d.Push(b)
		d.Push(a)
	})
	if allocs != 0 {
		t.Errorf("Push allocates %v times per two frames, want 0", allocs)
	}
	// A frame of another size starts afresh instead of comparing.
	if score := d.Push(solidFrame(10, 1, 2, 3)); score != 0 {
		t.Errorf("resized frame scored %v, want 0", score)
	}
}

func TestSceneDims(t *testing.T) {
	tests := []struct{ width, height, w, h int }{
		{1920, 1080, 256, 144},
		{1280, 720, 256, 144},
		{640, 480, 256, 192},
		{480, 270, 256, 144},
		{1080, 1920, 144, 256},
		{720, 576, 256, 205}, // 204.8
		{320, 240, 256, 192},
		{256, 100, 256, 100},
		{160, 120, 160, 120},
		{4000, 10, 256, 1},
		{640, 360, 256, 144},
		{500, 282, 256, 144}, // 144.38
	}
	for _, tc := range tests {
		if w, h := SceneDims(tc.width, tc.height); w != tc.w || h != tc.h {
			t.Errorf("SceneDims(%d, %d) = %dx%d, want %dx%d", tc.width, tc.height, w, h, tc.w, tc.h)
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
	a, err := tools.AnalyzeScenes(context.Background(), File(path), width, height, "yuv420p", defaultThreshold, 1, 1)
	if err != nil {
		tb.Fatal(err)
	}
	return a.Scores
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
	n, err := tools.decodeSceneFrames(ctx, File(path), 256, 192, 1, "", func(n int, _ []byte) {
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
