package media

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// expectedScenes is testdata/scenes/expected.json, what PySceneDetect 0.7.1
// (OpenCV 4.6) found in the videos testdata/scenes/make.sh makes, as
// testdata/scenes/pyscenedetect.py writes it.
type expectedScenes struct {
	PySceneDetect string `json:"pyscenedetect"`
	OpenCV        string `json:"opencv"`
	Videos        map[string]struct {
		Width, Height int
		FPS           float64   `json:"fps"`
		Frames        int       `json:"frames"`
		Cuts          []int     `json:"cuts"`
		Scores        []float64 `json:"scores"`
	} `json:"videos"`
}

func readExpectedScenes(t *testing.T, path string) expectedScenes {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e expectedScenes
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Videos) == 0 {
		t.Fatalf("%s: no videos", path)
	}
	return e
}

// TestPySceneDetectGolden runs scene detection on the committed test videos
// (hard cuts, fades, dissolves, flashes shorter than 15 frames, cuts closer
// than 15 frames, NTSC and variable frame rates, portrait, odd sizes, one
// small enough not to be downscaled) and checks every frame's score and
// every cut against PySceneDetect's own.
func TestPySceneDetectGolden(t *testing.T) {
	tools := mediaTestTools(t)
	dir := filepath.Join("testdata", "scenes")
	want := readExpectedScenes(t, filepath.Join(dir, "expected.json"))
	checkAgainstPySceneDetect(t, tools, dir, want)
}

func checkAgainstPySceneDetect(t *testing.T, tools Tools, dir string, want expectedScenes) {
	names := make([]string, 0, len(want.Videos))
	for name := range want.Videos {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := want.Videos[name]
		// Each video both ways: from its yuv420p planes, and converted
		// to BGR24 by ffmpeg (what any other pixel format takes).
		for _, path := range []struct{ name, pixFmt string }{{"planes", "yuv420p"}, {"bgr24", ""}} {
			t.Run(name+"/"+path.name, func(t *testing.T) {
				checkVideoAgainst(t, tools, filepath.Join(dir, name), path.pixFmt, v.Width, v.Height, v.Frames, v.FPS, v.Scores, v.Cuts)
			})
		}
	}
}

// checkVideoAgainst compares the analysis of one video with
// PySceneDetect's frames, fps, scores and cuts.
func checkVideoAgainst(t *testing.T, tools Tools, path, pixFmt string, width, height, frames int, fps float64, scores []float64, cuts []int) {
	t.Helper()
	a, err := tools.AnalyzeScenes(context.Background(), File(path), width, height, pixFmt, 27, 15, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Frames != frames || a.FPS != fps {
		t.Errorf("%d frames at %v fps, PySceneDetect %d at %v", a.Frames, a.FPS, frames, fps)
	}
	worst, at := 0.0, -1
	for n := range min(len(a.Scores), len(scores)) {
		if d := math.Abs(a.Scores[n] - scores[n]); d > worst {
			worst, at = d, n
		}
	}
	if worst != 0 {
		t.Errorf("scores differ from PySceneDetect's by up to %g (frame %d: %v, want %v)", worst, at, a.Scores[at], scores[at])
	}
	if !reflect.DeepEqual(a.Cuts, cuts) && (len(a.Cuts) > 0 || len(cuts) > 0) {
		t.Errorf("cuts %v, PySceneDetect %v", a.Cuts, cuts)
	}
}

// TestAgainstPySceneDetect makes the test videos afresh with make.sh and
// compares with PySceneDetect itself, run by testdata/scenes/pyscenedetect.py
// with Debian's python3-opencv. PySceneDetect's source is found through
// CLIPFS_PYSCENEDETECT (a checkout of Breakthrough/PySceneDetect, or the
// folder holding its scenedetect package), or an installed scenedetect.
// Without it the committed expected.json (TestPySceneDetectGolden) is the
// comparison.
func TestAgainstPySceneDetect(t *testing.T) {
	tools := mediaTestTools(t)
	python := "/usr/bin/python3"
	env := os.Environ()
	if src := os.Getenv("CLIPFS_PYSCENEDETECT"); src != "" {
		env = append(env, "PYTHONPATH="+src)
	}
	probe := exec.Command(python, "-c", "import cv2, scenedetect")
	probe.Env = env
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("no PySceneDetect for %s (set CLIPFS_PYSCENEDETECT to its source; apt python3-opencv): %v %s", python, err, bytes.TrimSpace(out))
	}
	if testing.Short() {
		t.Skip("makes 13 videos and runs PySceneDetect on them")
	}
	dir := t.TempDir()
	script := filepath.Join("testdata", "scenes")
	if out, err := exec.Command("bash", filepath.Join(script, "make.sh"), dir).CombinedOutput(); err != nil {
		t.Fatalf("make.sh: %v\n%s", err, out)
	}
	videos, err := filepath.Glob(filepath.Join(dir, "*.mp4"))
	if err != nil || len(videos) == 0 {
		t.Fatalf("make.sh made no videos (%v)", err)
	}
	run := exec.Command(python, append([]string{filepath.Join(script, "pyscenedetect.py")}, videos...)...)
	run.Env = env
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("pyscenedetect.py: %v\n%s", err, stderr.Bytes())
	}
	var want expectedScenes
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	t.Logf("PySceneDetect %s, OpenCV %s, %d videos", want.PySceneDetect, want.OpenCV, len(want.Videos))
	checkAgainstPySceneDetect(t, tools, dir, want)
}
