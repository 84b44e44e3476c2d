package vit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestResizeBicubicKernel(t *testing.T) {
	for _, tc := range []struct{ x, want float64 }{
		{0, 1}, {1, 0}, {-1, 0}, {2, 0}, {-2, 0}, {3, 0},
		{0.25, 111.0 / 128}, {-0.25, 111.0 / 128},
		{0.5, 0.5625}, {0.75, 29.0 / 128},
		{1.25, -9.0 / 128}, {1.5, -0.0625}, {-1.5, -0.0625}, {1.75, -3.0 / 128},
	} {
		if got := bicubic(tc.x); got != tc.want {
			t.Errorf("bicubic(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
}

// fixed is the fixed-point coefficient num/den as normalize_coeffs_8bpc
// rounds it (half away from zero).
func fixed(num, den float64) int32 {
	return int32(math.Round(num / den * (1 << precisionBits)))
}

func TestResizeCoeffs(t *testing.T) {
	// Kernel values in 1/128: f(±0.25) = 111, f(±0.75) = 29, f(±1.25) = -9,
	// f(±1.75) = -3. Downscaling 2:1 stretches the kernel (support 4, taps
	// at (x - center + 0.5) / 2); PIL truncates xmin toward zero, so the
	// first windows lose their leftmost taps and renormalise.
	for _, tc := range []struct {
		in, out, ksize int
		xx             int // output index
		min            int
		num            []float64
		den            float64
	}{
		{8, 4, 9, 0, 0, []float64{111, 111, 29, -9, -3}, 239},
		{8, 4, 9, 1, 0, []float64{-9, 29, 111, 111, 29, -9, -3}, 259},
		{8, 4, 9, 3, 3, []float64{-3, -9, 29, 111, 111}, 239},
		{4, 8, 5, 0, 0, []float64{111, -9}, 102},
		{4, 8, 5, 3, 0, []float64{-9, 111, 29, -3}, 128},
		{4, 8, 5, 7, 2, []float64{-9, 111}, 102},
	} {
		c := newCoeffs(tc.in, tc.out)
		if c.ksize != tc.ksize || c.min[tc.xx] != tc.min || c.n[tc.xx] != len(tc.num) {
			t.Errorf("%d→%d [%d]: ksize %d, min %d, n %d; want %d, %d, %d", tc.in, tc.out, tc.xx,
				c.ksize, c.min[tc.xx], c.n[tc.xx], tc.ksize, tc.min, len(tc.num))
			continue
		}
		for i, num := range tc.num {
			if got, want := c.k[tc.xx*c.ksize+i], fixed(num, tc.den); got != want {
				t.Errorf("%d→%d [%d] tap %d = %d, want %d (%g/%g)", tc.in, tc.out, tc.xx, i, got, want, num, tc.den)
			}
		}
	}
}

func TestResizeConstantColour(t *testing.T) {
	for _, sz := range [][4]int{{640, 480, 298, 224}, {7, 5, 3, 11}, {100, 500, 224, 1120}, {1, 1, 9, 4}, {5, 5, 1, 1}} {
		w, h, ow, oh := sz[0], sz[1], sz[2], sz[3]
		rgb := bytes.Repeat([]byte{0, 128, 255}, w*h)
		if got, want := ResizeBicubic(rgb, w, h, ow, oh), bytes.Repeat([]byte{0, 128, 255}, ow*oh); !bytes.Equal(got, want) {
			t.Errorf("%d×%d → %d×%d: a constant colour changed", w, h, ow, oh)
		}
	}
}

func TestResizeShortestEdgeSize(t *testing.T) {
	for _, tc := range [][5]int{
		{640, 480, 224, 298, 224}, {1920, 1080, 224, 398, 224}, {480, 640, 224, 224, 298},
		{224, 224, 224, 224, 224}, {100, 500, 224, 224, 1120}, {1921, 1081, 224, 398, 224}, {96, 72, 64, 85, 64},
	} {
		if ow, oh := ShortestEdgeSize(tc[0], tc[1], tc[2]); ow != tc[3] || oh != tc[4] {
			t.Errorf("ShortestEdgeSize(%d, %d, %d) = %d×%d, want %d×%d", tc[0], tc[1], tc[2], ow, oh, tc[3], tc[4])
		}
	}
}

func TestCropOrigin(t *testing.T) {
	for _, tc := range [][3]int{{298, 224, 37}, {398, 224, 87}, {224, 224, 0}, {225, 224, 0}, {100, 224, -62}, {101, 224, -62}, {223, 224, -1}} {
		if got := cropOrigin(tc[0], tc[1]); got != tc[2] {
			t.Errorf("cropOrigin(%d, %d) = %d, want %d", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestCropPadsWithZeroPixels(t *testing.T) {
	// A 2×3 image, no resize, cropped to 4×4: HF pads one column left and
	// right (ceil(2/2)) and one row on top (ceil(1/2)), with zero pixels.
	rgb := make([]byte, 2*3*3)
	for i := range rgb {
		rgb[i] = byte(10 + i)
	}
	got := resizeCrop(rgb, 2, 3, 2, 3, 4)
	lut := normalisation()
	for c := range 3 {
		for y := range 4 {
			for x := range 4 {
				want := lut[c][0]
				if sx, sy := x-1, y-1; sx >= 0 && sx < 2 && sy >= 0 && sy < 3 {
					want = lut[c][rgb[(sy*2+sx)*3+c]]
				}
				if g := got[c*16+y*4+x]; g != want {
					t.Errorf("channel %d (%d,%d) = %g, want %g", c, x, y, g, want)
				}
			}
		}
	}
}

func TestPreprocessConstants(t *testing.T) {
	// numpy rounds HF's Python floats to float32; Go rounds the decimal
	// literal directly. Both must give the same float32.
	mean := [3]float64{0.48145466, 0.4578275, 0.40821073}
	std := [3]float64{0.26862954, 0.26130258, 0.27577711}
	for c := range 3 {
		if CLIPMean[c] != float32(mean[c]) || CLIPStd[c] != float32(std[c]) {
			t.Errorf("channel %d: float32 constants differ from the rounded float64", c)
		}
	}
}

// testImage is a deterministic RGB24 image: noise or a smooth gradient.
func testImage(w, h int, noise bool) []byte {
	rgb := make([]byte, w*h*3)
	if noise {
		r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
		for i := range rgb {
			rgb[i] = byte(r.Uint32())
		}
		return rgb
	}
	for y := range h {
		for x := range w {
			p := rgb[(y*w+x)*3:]
			p[0] = byte(x * 255 / max(w-1, 1))
			p[1] = byte(y * 255 / max(h-1, 1))
			p[2] = byte(127.5 + 127.5*math.Sin(float64(x+2*y)/17))
		}
	}
	return rgb
}

// cropNormalise is the straightforward pipeline after a full resize: the
// window Preprocess computes must agree with it.
func cropNormalise(resized []byte, ow, oh, crop int) []float32 {
	lut := normalisation()
	left, top := cropOrigin(ow, crop), cropOrigin(oh, crop)
	out := make([]float32, 3*crop*crop)
	for c := range 3 {
		for y := range crop {
			for x := range crop {
				v, sx, sy := byte(0), x+left, y+top
				if sx >= 0 && sx < ow && sy >= 0 && sy < oh {
					v = resized[(sy*ow+sx)*3+c]
				}
				out[(c*crop+y)*crop+x] = lut[c][v]
			}
		}
	}
	return out
}

func TestPreprocessWindowMatchesFullResize(t *testing.T) {
	for _, sz := range [][2]int{{640, 480}, {300, 200}, {100, 500}, {224, 224}, {97, 61}} {
		w, h := sz[0], sz[1]
		rgb := testImage(w, h, true)
		ow, oh := ShortestEdgeSize(w, h, 224)
		want := cropNormalise(ResizeBicubic(rgb, w, h, ow, oh), ow, oh, 224)
		if d := maxAbsDiff(Preprocess(rgb, w, h, 224), want); d != 0 {
			t.Errorf("%d×%d: Preprocess differs from resize, crop, normalise by %g", w, h, d)
		}
		// Padding on both axes, and the resize skipped on one axis.
		for _, r := range [][3]int{{w / 2, h/2 + 1, 224}, {w, h / 3, 160}} {
			want := cropNormalise(ResizeBicubic(rgb, w, h, r[0], r[1]), r[0], r[1], r[2])
			if d := maxAbsDiff(resizeCrop(rgb, w, h, r[0], r[1], r[2]), want); d != 0 {
				t.Errorf("%d×%d to %d×%d crop %d: differs by %g", w, h, r[0], r[1], r[2], d)
			}
		}
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func readFloats(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:]))
	}
	return f
}

// compareBytes reports the first differing byte of a resize.
func compareBytes(t *testing.T, name string, got, want []byte, ow int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d bytes, want %d", name, len(got), len(want))
		return
	}
	n, first := 0, -1
	for i := range got {
		if got[i] != want[i] {
			if n++; first < 0 {
				first = i
			}
		}
	}
	if n > 0 {
		p := first / 3
		t.Errorf("%s: %d bytes differ, first at (%d,%d) channel %d: %d, want %d",
			name, n, p%ow, p/ow, first%3, got[first], want[first])
	}
}

func TestPreprocessGolden(t *testing.T) {
	// Written by testdata/preprocess.py golden testdata (PIL 9.4, numpy).
	rgb, err := os.ReadFile("testdata/preprocess_input_96x72.rgb")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/preprocess_resize_37x101.rgb")
	if err != nil {
		t.Fatal(err)
	}
	compareBytes(t, "96×72 → 37×101", ResizeBicubic(rgb, 96, 72, 37, 101), want, 37)
	if d := maxAbsDiff(Preprocess(rgb, 96, 72, 64), readFloats(t, "testdata/preprocess_clip_64.f32")); d > 1e-6 {
		t.Errorf("Preprocess(96×72, 64) differs from HF by %g", d)
	}
}

// referencePython returns a python3 that imports PIL and numpy; when there
// is none the test is skipped, except in CI (env CI non-empty) where it fails.
func referencePython(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		out, err := exec.Command(path, "-c", "import PIL, numpy").CombinedOutput()
		if err == nil {
			return path
		}
		tried = append(tried, fmt.Sprintf("%s: %v: %s", path, err, strings.TrimSpace(string(out))))
	}
	msg := "python3 with PIL and numpy: " + strings.Join(tried, "; ")
	if os.Getenv("CI") != "" {
		t.Fatal("CI needs " + msg)
	}
	t.Skip("no " + msg)
	return ""
}

// pilJob is one resize or HF pipeline run by testdata/preprocess.py.
type pilJob struct {
	name          string
	rgb           []byte
	w, h, ow, oh  int
	crop          int // 0 for a resize
	input, output string
}

func TestResizeAndPreprocessAgainstPIL(t *testing.T) {
	python := referencePython(t)
	dir := t.TempDir()
	var jobs []pilJob
	var lines strings.Builder
	for _, sz := range [][2]int{{640, 480}, {1280, 720}, {300, 200}, {224, 224}, {100, 500}, {1921, 1081}} {
		for _, noise := range []bool{true, false} {
			w, h := sz[0], sz[1]
			name := fmt.Sprintf("%dx%d-noise=%v", w, h, noise)
			rgb := testImage(w, h, noise)
			input := filepath.Join(dir, name+".rgb")
			if err := os.WriteFile(input, rgb, 0o644); err != nil {
				t.Fatal(err)
			}
			ow, oh := ShortestEdgeSize(w, h, 224)
			for _, j := range []pilJob{
				{w: w, h: h, ow: ow, oh: oh},
				{w: w, h: h, ow: w/2 + 1, oh: h*3/2 + 1},
				{w: w, h: h, ow: w, oh: h/7 + 1},
				{w: w, h: h, ow: ow, oh: oh, crop: 224},
				{w: w, h: h, ow: w/3 + 1, oh: h / 2, crop: 224},
			} {
				j.rgb, j.input = rgb, input
				j.name = fmt.Sprintf("%s to %dx%d crop %d", name, j.ow, j.oh, j.crop)
				j.output = filepath.Join(dir, fmt.Sprintf("out%d", len(jobs)))
				if j.crop == 0 {
					fmt.Fprintf(&lines, "resize %s %d %d %d %d %s\n", j.input, w, h, j.ow, j.oh, j.output)
				} else {
					fmt.Fprintf(&lines, "clip %s %d %d %d %d %d %s\n", j.input, w, h, j.ow, j.oh, j.crop, j.output)
				}
				jobs = append(jobs, j)
			}
		}
	}
	jobFile := filepath.Join(dir, "jobs")
	if err := os.WriteFile(jobFile, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(python, "testdata/preprocess.py", "batch", jobFile).CombinedOutput(); err != nil {
		t.Fatalf("preprocess.py: %v: %s", err, out)
	}
	for _, j := range jobs {
		if j.crop == 0 {
			want, err := os.ReadFile(j.output)
			if err != nil {
				t.Fatal(err)
			}
			compareBytes(t, j.name, ResizeBicubic(j.rgb, j.w, j.h, j.ow, j.oh), want, j.ow)
			continue
		}
		if d := maxAbsDiff(resizeCrop(j.rgb, j.w, j.h, j.ow, j.oh, j.crop), readFloats(t, j.output)); d > 1e-6 {
			t.Errorf("%s: differs from HF by %g", j.name, d)
		}
	}
}

func BenchmarkPreprocess1080p(b *testing.B) {
	rgb := testImage(1920, 1080, true)
	for b.Loop() {
		Preprocess(rgb, 1920, 1080, 224)
	}
}

func BenchmarkResizeBicubic1080p(b *testing.B) {
	rgb := testImage(1920, 1080, true)
	for b.Loop() {
		ResizeBicubic(rgb, 1920, 1080, 398, 224)
	}
}
