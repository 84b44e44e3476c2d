package motion

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// vec is a motion vector with H.264's quarter-pixel scale.
func vec(w, h uint8, dstX, dstY int16, motionX, motionY int32) Vector {
	return Vector{Source: -1, W: w, H: h, DstX: dstX, DstY: dstY, MotionX: motionX, MotionY: motionY, Scale: 4}
}

// Motions used below: (-12, 16)/4 gives a delta of (3, -4), length 5;
// (-24, -32)/4 gives (6, 8), length 10.
const (
	mx5, my5   = -12, 16
	mx10, my10 = -24, -32
)

// flowOf fills one frame's flow field from vs.
func flowOf(w, h int, vs []Vector) *motionSum {
	m := newMotionSum(w, h)
	m.fill(vs)
	return m
}

// at is the flow magnitude at pixel (x, y).
func (m *motionSum) at(x, y int) float32 { return m.mag[y*m.w+x] }

// written counts the pixels whose flow is not zero.
func (m *motionSum) written() int {
	n := 0
	for _, v := range m.mag {
		if v != 0 {
			n++
		}
	}
	return n
}

func TestFlowMagnitudes(t *testing.T) {
	// Magnitudes over W+H = 512 of the deltas (3, -4) and (6, 8).
	d5, d10, zero := float32(5.0/512), float32(10.0/512), float32(0)
	type pixel struct {
		x, y int
		want float32
	}
	tests := []struct {
		name    string
		vs      []Vector
		written int
		pixels  []pixel
	}{
		{"one 16x16 block", []Vector{vec(16, 16, 8, 8, mx5, my5)}, 256,
			[]pixel{{0, 0, d5}, {15, 15, d5}, {16, 0, zero}, {0, 16, zero}}},
		{"later vector wins", []Vector{vec(16, 16, 8, 8, mx5, my5), vec(16, 16, 8, 8, mx10, my10)}, 256,
			[]pixel{{0, 0, d10}, {15, 15, d10}}},
		{"16x16 written after 8x8 whatever the order", []Vector{vec(16, 16, 8, 8, mx5, my5), vec(8, 8, 4, 4, mx10, my10)}, 256,
			[]pixel{{0, 0, d5}, {7, 7, d5}, {15, 15, d5}}},
		{"8x16 written after 16x8", []Vector{vec(8, 16, 4, 8, mx5, my5), vec(16, 8, 8, 4, mx10, my10)}, 16*8 + 8*8,
			[]pixel{{0, 0, d5}, {7, 7, d5}, {8, 0, d10}, {15, 7, d10}, {0, 15, d5}, {8, 8, zero}}},
		{"8x8 block", []Vector{vec(8, 8, 12, 20, mx10, my10)}, 64,
			[]pixel{{8, 16, d10}, {15, 23, d10}, {7, 16, zero}, {8, 24, zero}}},
		{"16x8 block", []Vector{vec(16, 8, 24, 12, mx10, my10)}, 128,
			[]pixel{{16, 8, d10}, {31, 15, d10}, {32, 8, zero}, {16, 16, zero}}},
		{"other sizes ignored", []Vector{vec(4, 4, 8, 8, mx5, my5), vec(16, 4, 8, 8, mx5, my5),
			vec(0, 0, 8, 8, mx5, my5), vec(32, 32, 16, 16, mx5, my5), vec(8, 4, 4, 4, mx5, my5)}, 0, nil},
		{"clamped left of the frame", []Vector{vec(16, 16, -20, 8, mx5, my5)}, 16,
			[]pixel{{0, 0, d5}, {0, 15, d5}, {1, 0, zero}}},
		{"clamped at the right and bottom edges", []Vector{vec(16, 16, 250, 252, mx5, my5)}, 14 * 12,
			[]pixel{{242, 244, d5}, {255, 255, d5}, {241, 244, zero}}},
		{"beyond the corner writes the corner", []Vector{vec(16, 16, 300, 300, mx5, my5)}, 1,
			[]pixel{{255, 255, d5}}},
		{"zero motion writes zero", []Vector{vec(16, 16, 8, 8, 0, 0)}, 0, []pixel{{0, 0, zero}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := flowOf(256, 256, tc.vs)
			if got := m.written(); got != tc.written {
				t.Errorf("%d pixels written, want %d", got, tc.written)
			}
			for _, p := range tc.pixels {
				if got := m.at(p.x, p.y); got != p.want {
					t.Errorf("flow at (%d,%d) = %v, want %v", p.x, p.y, got, p.want)
				}
			}
		})
	}
}

func TestMagnitudeFloat32(t *testing.T) {
	// -motion/scale is a float32 division (-1/3 rounds to float32), the norm
	// and the division by W+H are float32 too.
	v := Vector{W: 16, H: 16, DstX: 8, DstY: 8, MotionX: 1, MotionY: -7, Scale: 3}
	m := flowOf(256, 256, []Vector{v})
	dx, dy := float32(-1)/3, float32(7)/3
	sq := float32(dx*dx) + float32(dy*dy)
	want := float32(math.Sqrt(float64(sq))) / 512
	if got := m.at(0, 0); got != want {
		t.Errorf("magnitude = %v, want %v", got, want)
	}
	if wide := math.Sqrt(1.0/9+49.0/9) / 512; float64(want) == wide {
		t.Errorf("float32 magnitude %v equals the float64 one: test tells nothing", want)
	}
}

func TestCompute(t *testing.T) {
	const a = 5.0 / 512 // length 5 over W+H = 512, exact in float32
	frame := func(vs ...Vector) []Vector { return vs }
	tests := []struct {
		name     string
		w, h     int
		frames   [][]Vector
		global   float64
		patchMin float64
	}{
		{"16x16 block in the corner", 256, 256,
			[][]Vector{frame(vec(16, 16, 8, 8, mx5, my5))}, 256 * a / 65536, 0},
		// The 1x1 resize of a 256x256 image averages pixels 127 and 128 of rows 127 and 128.
		{"16x16 block in the centre", 256, 256,
			[][]Vector{frame(vec(16, 16, 128, 128, mx5, my5))}, 256 * a / 65536, a},
		{"8x8 block over three of the four centre pixels", 256, 256,
			[][]Vector{frame(vec(8, 8, 132, 132, mx5, my5), vec(8, 8, 124, 132, mx5, my5), vec(8, 8, 132, 124, mx5, my5))},
			3 * 64 * a / 65536, 0.75 * a},
		{"last write wins", 256, 256,
			[][]Vector{frame(vec(16, 16, 128, 128, mx5, my5), vec(16, 16, 128, 128, mx10, my10))}, 256 * 2 * a / 65536, 2 * a},
		{"two frames averaged", 256, 256,
			[][]Vector{frame(vec(16, 16, 128, 128, mx5, my5)), frame(vec(16, 16, 128, 128, mx10, my10))},
			256 * 3 * a / (2 * 65536), 1.5 * a},
		{"a frame without vectors counts", 256, 256,
			[][]Vector{frame(vec(16, 16, 128, 128, mx5, my5)), {}}, 256 * a / (2 * 65536), a / 2},
		{"ignored sizes only", 256, 256, [][]Vector{frame(vec(4, 4, 128, 128, mx5, my5))}, 0, 0},
		// 512x256 resizes to 2x1: pixels 127,128 and 383,384 of rows 127,128.
		{"512x256, both patches moving", 512, 256,
			[][]Vector{frame(vec(16, 16, 128, 128, mx10, my10), vec(16, 16, 384, 128, mx5, my5))},
			f32(f32(256*(float64(f32(10.0/768))+float64(f32(5.0/768)))) / 131072), f32(5.0 / 768)},
		{"512x256, right patch still", 512, 256,
			[][]Vector{frame(vec(16, 16, 128, 128, mx10, my10))}, f32(256 * float64(f32(10.0/768)) / 131072), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(Decoded{Frames: tc.frames, Width: tc.w, Height: tc.h})
			if got.GlobalMean != tc.global || got.PerPatchMin256 != tc.patchMin {
				t.Errorf("Compute = %+v, want {GlobalMean:%v PerPatchMin256:%v}", got, tc.global, tc.patchMin)
			}
		})
	}
}

// f32 rounds to float32, as NeMo's tensors hold their values.
func f32(v float64) float64 { return float64(float32(v)) }

func TestComputeManyFrames(t *testing.T) {
	// Sums of identical frames stay exact across torch's 16-frame chunks and
	// 256-frame batches, so the mean is the frame's own.
	const a = 5.0 / 512
	for _, n := range []int{15, 16, 17, 40, 256, 257, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			frames := make([][]Vector, n)
			for i := range frames {
				frames[i] = []Vector{vec(16, 16, 128, 128, mx5, my5)}
			}
			got := Compute(Decoded{Frames: frames, Width: 256, Height: 256})
			if want := (Score{GlobalMean: 256 * a / 65536, PerPatchMin256: a}); got != want {
				t.Errorf("Compute = %+v, want %+v", got, want)
			}
		})
	}
}

func TestPixelSumOrder(t *testing.T) {
	// The per-pixel sum over frames must add in torch's order: sequentially
	// within chunks of 16 frames, the chunk sums into a second accumulator.
	// Values of very different magnitude make the order visible.
	mags := make([]float32, 40)
	for i := range mags {
		mags[i] = float32(1 + float64(i%7)*1e-7)
		if i%16 == 3 {
			mags[i] = 3e7
		}
	}
	var acc [4]float32
	for i := 0; i+16 <= len(mags); {
		for j := 0; j < 16; j, i = j+1, i+1 {
			acc[0] += mags[i]
		}
		acc[1] += acc[0]
		acc[0] = 0
	}
	for _, v := range mags[32:] {
		acc[0] += v
	}
	want := acc[0] + acc[1] + acc[2] + acc[3]

	m := newMotionSum(1, 1)
	for _, v := range mags {
		m.levels[0][0] += v
		m.frames++
		m.batchRows++
		if m.batchRows&sumLevelMask == 0 {
			m.cascade()
		}
	}
	m.endBatch()
	if got := m.pixelSum[0]; got != want {
		t.Errorf("per-pixel sum %v, want %v", got, want)
	}
	var seq float32
	for _, v := range mags {
		seq += v
	}
	if seq == want {
		t.Errorf("test values do not tell the orders apart")
	}
}

func TestComputeMissing(t *testing.T) {
	for _, d := range []Decoded{{}, {Width: 256, Height: 256}, {Frames: [][]Vector{{}}}} {
		if got := Compute(d); got != Missing() {
			t.Errorf("Compute(%+v) = %+v, want Missing()", d, got)
		}
	}
}

func TestSmall(t *testing.T) {
	def := DefaultThresholds()
	if def != (Thresholds{GlobalMean: 0.00098, PerPatchMin256: 1e-6}) {
		t.Errorf("DefaultThresholds() = %+v", def)
	}
	tests := []struct {
		s    Score
		want bool
	}{
		{Missing(), true},
		{Score{0, 0}, true},
		{Score{0.00098, 1e-6}, false},
		{Score{0.00097, 1}, true},
		{Score{1, 0.9e-6}, true},
		{Score{0.01, 0.001}, false},
	}
	for _, tc := range tests {
		if got := tc.s.Small(def); got != tc.want {
			t.Errorf("%+v.Small() = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrResolutionTooSmall, "resolution_too_small"},
		{fmt.Errorf("motion: x.mp4: %w", ErrResolutionTooSmall), "resolution_too_small"},
		{fmt.Errorf("motion: x.mp4: %w", ErrNoMotionFrames), "no_motion_frames"},
		{fmt.Errorf("motion: open x.mp4: %w: Invalid data", ErrDecodeFailed), "decode_failed"},
		{errors.New("anything else"), "decode_failed"},
	}
	for _, tc := range tests {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestMinFloat32(t *testing.T) {
	nan := float32(math.NaN())
	if got := minFloat32([]float32{3, 1, 2}); got != 1 {
		t.Errorf("min = %v", got)
	}
	if got := minFloat32([]float32{3, nan, 2}); got == got {
		t.Errorf("min with NaN = %v, want NaN as numpy", got)
	}
}
