package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func needTorch(t *testing.T) {
	err := exec.Command(python, "-c", "import torch, numpy").Run()
	need(t, err == nil, python+" with torch (apt python3-torch)")
}

// transnetReference is curate/transnet/testdata/reference.py, the
// independent PyTorch TransNetV2 with NeMo's batching and _get_scenes.
func transnetReference(t *testing.T, args ...string) {
	t.Helper()
	script := filepath.Join(repoRoot, "curate", "transnet", "testdata", "reference.py")
	if out, err := exec.Command(python, append([]string{script}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("reference.py %v: %v\n%s", args, err, out)
	}
}

// nemoFilter is NeMo's _get_filtered_scenes in stride mode on scenes
// [start, end): pieces of at most maxLen frames (a last piece shorter than
// minLen dropped), crop frames off both ends, scenes shorter than minLen
// dropped.
func nemoFilter(scenes [][2]int, minLen, maxLen, crop int) [][2]int {
	var pieces [][2]int
	for _, sc := range scenes {
		for s := sc[0]; s < sc[1]; s += maxLen {
			e := min(s+maxLen, sc[1])
			if minLen > 0 && e-s < minLen && e == sc[1] {
				break
			}
			pieces = append(pieces, [2]int{s, e})
		}
	}
	var out [][2]int
	for _, p := range pieces {
		p = [2]int{p[0] + crop, p[1] - crop}
		if p[1]-p[0] > 0 && p[1]-p[0] >= minLen {
			out = append(out, p)
		}
	}
	return out
}

// scenesLine is one line of `clipfs scenes --json`.
type scenesLine struct {
	Video     string    `json:"video"`
	Algorithm string    `json:"algorithm"`
	FPS       float64   `json:"fps"`
	Frames    int       `json:"frames"`
	Scores    []float64 `json:"scores"`
	Cuts      []int     `json:"cuts"`
	Scenes    [][2]int  `json:"scenes"`
}

func scenesJSON(t *testing.T, args ...string) []scenesLine {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"scenes", "--json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clipfs scenes %v: %v\n%s", args, err, stderr.String())
	}
	var lines []scenesLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var l scenesLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("clipfs scenes output: %v\n%.300s", err, sc.Bytes())
		}
		lines = append(lines, l)
	}
	return lines
}

// TestCurateTransNetV2 curates a video of four shots with
// --splitting-algorithm transnetv2 on random TransNetV2 weights written by
// torch, and checks that the clips are NeMo's post-processing of the scenes
// the PyTorch reference finds (NeMo's batching and _get_scenes), and that
// `clipfs scenes --algorithm transnetv2 --json` gives the reference's
// per-frame probabilities and scenes.
func TestCurateTransNetV2(t *testing.T) {
	needMedia(t)
	needTorch(t)
	t.Parallel()
	work := t.TempDir()
	transnetReference(t, "weights", "--seed", "1", "--out", work)
	model := filepath.Join(work, "model.pth")
	in := filepath.Join(work, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	video := filepath.Join(in, "shots.mp4")
	makeSceneVideo(t, video, sceneParts)

	// The reference, on frames extracted as NeMo's CPU path does.
	rgb := filepath.Join(work, "shots.rgb")
	ffmpeg(t, "-threads", "4", "-i", video, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "48x27", rgb)
	transnetReference(t, "scores", "--weights", model, "--frames", rgb, "--out", filepath.Join(work, "ref.json"))
	var ref struct {
		Frames int       `json:"frames"`
		Scores []float64 `json:"scores"`
		Scenes [][2]int  `json:"scenes"`
	}
	readJSON(t, filepath.Join(work, "ref.json"), &ref)
	if len(ref.Scenes) < 2 {
		t.Fatalf("test setup: the reference finds %d scenes", len(ref.Scenes))
	}

	got := scenesJSON(t, "--algorithm", "transnetv2", "--transnetv2-model", model, video)
	if len(got) != 1 || got[0].Frames != ref.Frames || len(got[0].Scores) != ref.Frames {
		t.Fatalf("clipfs scenes: %d lines, want 1 with %d frames and scores", len(got), ref.Frames)
	}
	worst := 0.0
	for i, s := range got[0].Scores {
		worst = max(worst, math.Abs(s-ref.Scores[i]))
	}
	if worst > 1e-3 {
		t.Errorf("clipfs scenes: probabilities differ from PyTorch's by up to %.3g", worst)
	}
	if !reflect.DeepEqual(got[0].Scenes, ref.Scenes) {
		t.Errorf("clipfs scenes: scenes %v, reference %v", got[0].Scenes, ref.Scenes)
	}

	db := filepath.Join(work, "db")
	// Random weights make short scenes: NeMo's rules are given lengths
	// that keep some (and cut one into pieces).
	mustClipfs(t, 0, "curate", "--input", in, "--db", db, "--workers", workers(),
		"--splitting-algorithm", "transnetv2", "--transnetv2-model", model,
		"--transnetv2-min-length-s", "0.4", "--transnetv2-max-length-s", "1", "--transnetv2-crop-s", "0.08")
	out := filepath.Join(work, "out")
	mustClipfs(t, 0, "export", "--db", db, "--out", out)

	// 25 fps: min length int(0.4*25)=10, max int(1*25)=25, crop int(0.08*25)=2.
	want := nemoFilter(ref.Scenes, 10, 25, 2)
	if len(want) == 0 {
		t.Fatalf("test setup: NeMo's post-processing keeps none of %v", ref.Scenes)
	}
	clips, _ := filepath.Glob(filepath.Join(out, "clips", "*.mp4"))
	if len(clips) != len(want) {
		t.Errorf("%d clips, want %d (%v from scenes %v)", len(clips), len(want), want, ref.Scenes)
	}
	for _, s := range want {
		var meta sceneMeta
		readJSON(t, filepath.Join(out, "metas", "v0", spanID(video, s)+".json"), &meta)
		if meta.DurationSpan != [2]float64{float64(s[0]) / 25, float64(s[1]) / 25} || meta.NumFrames != s[1]-s[0] {
			t.Errorf("scene %v: duration_span %v, %d frames", s, meta.DurationSpan, meta.NumFrames)
		}
	}
	// Without the model the run is refused, naming the flag.
	r := mustClipfs(t, 2, "curate", "--input", in, "--db", filepath.Join(work, "db2"), "--splitting-algorithm", "transnetv2")
	if !strings.Contains(r.stderr, "--transnetv2-model") {
		t.Errorf("curate without --transnetv2-model: %s", r.stderr)
	}
}

// TestScenesContent runs `clipfs scenes --json` on committed test videos
// and compares with what PySceneDetect found in them
// (curate/media/testdata/scenes/expected.json), and a file that is not a
// video: one line naming it, exit 3, the others still listed.
func TestScenesContent(t *testing.T) {
	needMedia(t)
	t.Parallel()
	dir := filepath.Join(repoRoot, "curate", "media", "testdata", "scenes")
	var want struct {
		Videos map[string]struct {
			Frames int       `json:"frames"`
			Cuts   []int     `json:"cuts"`
			Scores []float64 `json:"scores"`
		} `json:"videos"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &want)
	names := []string{"flashes.mp4", "vfr.mp4", "closecuts_ntsc.mp4"}
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(dir, n))
	}
	got := scenesJSON(t, paths...)
	if len(got) != len(names) {
		t.Fatalf("%d lines for %d videos", len(got), len(names))
	}
	for i, l := range got {
		w := want.Videos[names[i]]
		if l.Frames != w.Frames || !reflect.DeepEqual(l.Cuts, w.Cuts) || !reflect.DeepEqual(l.Scores, w.Scores) {
			t.Errorf("%s: %d frames, cuts %v; PySceneDetect %d frames, cuts %v (scores equal: %t)",
				names[i], l.Frames, l.Cuts, w.Frames, w.Cuts, reflect.DeepEqual(l.Scores, w.Scores))
		}
		if len(l.Scenes) != len(l.Cuts)+1 || l.Scenes[0][0] != 0 || l.Scenes[len(l.Scenes)-1][1] != l.Frames {
			t.Errorf("%s: scenes %v do not cover the video around cuts %v", names[i], l.Scenes, l.Cuts)
		}
	}
	bad := filepath.Join(t.TempDir(), "broken.mp4")
	if err := os.WriteFile(bad, []byte("not a video"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustClipfs(t, 3, "scenes", bad, paths[0])
	if !strings.Contains(r.stderr, bad) || !strings.Contains(r.stderr, "flashes.mp4: ") {
		t.Errorf("scenes with a broken file:\n%s", r.stderr)
	}
}
