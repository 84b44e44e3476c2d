package motion

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// nemoClip is a clip's entry in testdata/nemo_golden.json, written by
// testdata/nemo_golden.py with PyAV, torch and OpenCV as NeMo uses them.
type nemoClip struct {
	Width           int      `json:"width"`
	Height          int      `json:"height"`
	FrameRate       float64  `json:"frame_rate"`
	Decoded         int      `json:"decoded"`
	VectorsPerFrame []int    `json:"vectors_per_frame"`
	VectorSums      [][8]int `json:"vector_sums"` // source, w, h, dst_x, dst_y, motion_x, motion_y, motion_scale
	Patches         [2]int   `json:"patches"`     // rows, columns of the 1/256 resize
	GlobalMean      float64  `json:"global_mean"`
	PerPatchMin256  float64  `json:"per_patch_min_256"`
}

func TestNeMoGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "nemo_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]nemoClip
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden) == 0 {
		t.Fatal("no golden clips")
	}
	for name, want := range golden {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, err := Decode(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if d.Width != want.Width || d.Height != want.Height || d.FrameRate != want.FrameRate || d.Decoded != want.Decoded {
				t.Errorf("decoded %dx%d at %v fps, %d frames; NeMo %dx%d at %v fps, %d frames",
					d.Width, d.Height, d.FrameRate, d.Decoded, want.Width, want.Height, want.FrameRate, want.Decoded)
			}
			counts := make([]int, len(d.Frames))
			sums := make([][8]int, len(d.Frames))
			for i, f := range d.Frames {
				counts[i] = len(f)
				for _, v := range f {
					s := &sums[i]
					for k, x := range []int{int(v.Source), int(v.W), int(v.H), int(v.DstX), int(v.DstY),
						int(v.MotionX), int(v.MotionY), int(v.Scale)} {
						s[k] += x
					}
				}
			}
			if !slices.Equal(counts, want.VectorsPerFrame) || !slices.Equal(sums, want.VectorSums) {
				t.Errorf("vectors per frame %v, sums %v; NeMo %v, %v", counts, sums, want.VectorsPerFrame, want.VectorSums)
			}
			got := Compute(d)
			// The per-pixel sums follow torch's order, so the patch minimum
			// is bit for bit NeMo's; the global sum is a float32 sum in
			// torch, within a few float32 steps of ours.
			if got.PerPatchMin256 != want.PerPatchMin256 {
				t.Errorf("PerPatchMin256 = %v, NeMo %v", got.PerPatchMin256, want.PerPatchMin256)
			}
			ulps := float32Steps(got.GlobalMean, want.GlobalMean)
			t.Logf("GlobalMean %v, NeMo %v (%d float32 steps); PerPatchMin256 %v", got.GlobalMean, want.GlobalMean, ulps, got.PerPatchMin256)
			if ulps > 4 {
				t.Errorf("GlobalMean = %v, NeMo %v: %d float32 steps apart", got.GlobalMean, want.GlobalMean, ulps)
			}
		})
	}
}

// float32Steps counts the float32 values between a and b (both positive).
func float32Steps(a, b float64) int {
	d := int64(math.Float32bits(float32(a))) - int64(math.Float32bits(float32(b)))
	return int(max(d, -d))
}

func TestResizeLinearOpenCVGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "opencv_resize.bin"))
	if err != nil {
		t.Fatal(err)
	}
	r := goldenReader{b: b}
	n := r.int()
	for range n {
		w, h := r.int(), r.int()
		fx, fy := r.float64(), r.float64()
		img := r.float32s(w * h)
		dw, dh := r.int(), r.int()
		want := r.float32s(dw * dh)
		if r.short {
			t.Fatal("opencv_resize.bin is truncated")
		}
		got, gw, gh := resizeLinear(img, w, h, fx, fy)
		if gw != dw || gh != dh {
			t.Errorf("%dx%d by %v, %v: %dx%d, OpenCV %dx%d", w, h, fx, fy, gw, gh, dw, dh)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%dx%d by %v, %v: pixel %d = %v, OpenCV %v", w, h, fx, fy, i, got[i], want[i])
				break
			}
		}
	}
}

// goldenReader decodes the little-endian records of opencv_resize.bin.
type goldenReader struct {
	b     []byte
	short bool
}

func (r *goldenReader) next(n int) []byte {
	if len(r.b) < n {
		r.short = true
		return make([]byte, n)
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *goldenReader) int() int { return int(int32(binary.LittleEndian.Uint32(r.next(4)))) }

func (r *goldenReader) float64() float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(r.next(8)))
}

func (r *goldenReader) float32s(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.next(4)))
	}
	return out
}
