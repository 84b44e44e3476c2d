package transnet

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// The PyTorch reference (testdata/reference.py) runs on Debian's
// /usr/bin/python3 with python3-torch.
const python = "/usr/bin/python3"

// needTorch skips when torch is missing, except in CI, where it must be
// there.
func needTorch(t testing.TB) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import torch, numpy").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import torch (apt install python3-torch): %v %s", python, err, strings.TrimSpace(string(out)))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func needFFmpeg(t testing.TB) string {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI needs ffmpeg")
		}
		t.Skip("no ffmpeg")
	}
	return ff
}

var (
	weightsOnce sync.Once
	weightsDir  string
	weightsErr  error
)

// referenceWeights writes random weights (non-trivial batch-norm
// statistics) once per test binary, as model.pth (torch.save) and
// model.safetensors (reference.py's own safetensors writer).
func referenceWeights(t testing.TB) string {
	t.Helper()
	needTorch(t)
	weightsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "transnet-weights-")
		if err != nil {
			weightsErr = err
			return
		}
		weightsDir = dir
		out, err := exec.Command(python, filepath.Join("testdata", "reference.py"), "weights", "--seed", "1", "--out", dir).CombinedOutput()
		if err != nil {
			weightsErr = fmt.Errorf("reference.py weights: %v\n%s", err, out)
		}
	})
	if weightsErr != nil {
		t.Fatal(weightsErr)
	}
	return weightsDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if weightsDir != "" {
		os.RemoveAll(weightsDir)
	}
	os.Exit(code)
}

// testVideo is a synthetic video: lavfi sources shown for a number of
// frames each, at 25 fps and 320x180.
type testVideo struct {
	name  string
	parts []string // "SOURCE:FRAMES"
}

var testVideos = []testVideo{
	{"70 frames", []string{"testsrc2:40", "mandelbrot:30"}},                                    // shorter than one window
	{"173 frames", []string{"testsrc2:80", "smptebars:60", "mandelbrot:33"}},                   // not a multiple of 50
	{"300 frames", []string{"smptebars:90", "testsrc2:60", "life=seed=3:90", "mandelbrot:60"}}, // a multiple of 50
	{"12 frames", []string{"testsrc2:12"}},
}

// frames makes v with ffmpeg and extracts its frames as NeMo's CPU path
// does.
func (v testVideo) frames(t *testing.T, dir string) []byte {
	t.Helper()
	ff := needFFmpeg(t)
	var graph, labels strings.Builder
	for i, p := range v.parts {
		src, n, _ := strings.Cut(p, ":")
		sep := "="
		if strings.Contains(src, "=") {
			sep = ":"
		}
		fmt.Fprintf(&graph, "%s%ssize=320x180:rate=25,trim=end_frame=%s,setpts=PTS-STARTPTS,format=yuv420p[s%d];", src, sep, n, i)
		fmt.Fprintf(&labels, "[s%d]", i)
	}
	fmt.Fprintf(&graph, "%sconcat=n=%d:v=1:a=0[v]", labels.String(), len(v.parts))
	path := filepath.Join(dir, strings.ReplaceAll(v.name, " ", "_")+".mp4")
	if out, err := exec.Command(ff, "-nostdin", "-v", "error", "-y", "-filter_complex", graph.String(), "-map", "[v]",
		"-c:v", "libx264", "-preset", "ultrafast", path).CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", v.name, err, out)
	}
	rgb, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-threads", "4", "-i", path,
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "48x27", "-").Output()
	if err != nil {
		t.Fatalf("frames of %s: %v", v.name, err)
	}
	return rgb
}

// reference is reference.py's scores output.
type reference struct {
	Frames    int       `json:"frames"`
	Scores    []float64 `json:"scores"`
	Scenes    [][2]int  `json:"scenes"`
	Threshold float64   `json:"threshold"`
}

func runReference(t *testing.T, weights string, rgb []byte, dir, name string) reference {
	t.Helper()
	in := filepath.Join(dir, name+".rgb")
	out := filepath.Join(dir, name+".json")
	if err := os.WriteFile(in, rgb, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(python, filepath.Join("testdata", "reference.py"), "scores", "--weights", weights,
		"--frames", in, "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("reference.py scores: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestAgainstPyTorch compares every frame's probability with the PyTorch
// reference on random weights, for the .pth and the safetensors file, on
// videos shorter than a window, of a multiple of 50 frames and not, and
// the scenes with NeMo's _get_scenes run by the reference.
func TestAgainstPyTorch(t *testing.T) {
	dir := referenceWeights(t)
	work := t.TempDir()
	pth, err := Load(filepath.Join(dir, "model.pth"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := Load(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pth, st) {
		t.Error("model.pth and model.safetensors load to different weights")
	}
	net := NewNet(pth, 0)
	for _, v := range testVideos {
		t.Run(v.name, func(t *testing.T) {
			rgb := v.frames(t, work)
			ref := runReference(t, filepath.Join(dir, "model.pth"), rgb, work, strings.ReplaceAll(v.name, " ", "_"))
			got, err := net.Scores(rgb)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != ref.Frames || len(ref.Scores) != ref.Frames {
				t.Fatalf("%d scores, reference %d (%d frames)", len(got), len(ref.Scores), ref.Frames)
			}
			worst, at := 0.0, 0
			for i, s := range got {
				if d := math.Abs(float64(s) - ref.Scores[i]); d > worst {
					worst, at = d, i
				}
			}
			t.Logf("%d frames: max |Go - PyTorch| %.2g at frame %d", len(got), worst, at)
			if worst > 1e-3 {
				t.Errorf("frame %d: %v, PyTorch %v (|diff| %.3g > 1e-3)", at, got[at], ref.Scores[at], worst)
			}
			// The scenes from the reference's own scores, so that a
			// probability within float error of the threshold cannot
			// make them differ.
			ref32 := make([]float32, len(ref.Scores))
			for i, s := range ref.Scores {
				ref32[i] = float32(s)
			}
			if scenes := Scenes(ref32, ref.Threshold); !reflect.DeepEqual(scenes, ref.Scenes) {
				t.Errorf("scenes %v, NeMo's _get_scenes %v", scenes, ref.Scenes)
			}
		})
	}
}
