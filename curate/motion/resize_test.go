package motion

import (
	"reflect"
	"testing"
)

// ramp is a w×h image whose pixel (x, y) holds x + 1000·y: exact in float32,
// and a bilinear mix of neighbours with weights 1/2 stays exact.
func ramp(w, h int) []float32 {
	img := make([]float32, w*h)
	for y := range h {
		for x := range w {
			img[y*w+x] = float32(x + 1000*y)
		}
	}
	return img
}

func TestResizeLinear(t *testing.T) {
	// For 1/256, OpenCV maps destination index d to (d+0.5)·256 - 0.5 =
	// 256d + 127.5: the mean of source pixels 256d+127 and 256d+128.
	tests := []struct {
		name   string
		w, h   int
		fx, fy float64
		img    []float32 // ramp(w, h) when nil
		dw, dh int
		want   []float32
	}{
		{"256x256 to 1x1", 256, 256, 1.0 / 256, 1.0 / 256, nil, 1, 1,
			[]float32{127.5 + 127500}},
		{"1280x720 to 5x3", 1280, 720, 1.0 / 256, 1.0 / 256, nil, 5, 3, []float32{
			127.5 + 127500, 383.5 + 127500, 639.5 + 127500, 895.5 + 127500, 1151.5 + 127500,
			127.5 + 383500, 383.5 + 383500, 639.5 + 383500, 895.5 + 383500, 1151.5 + 383500,
			127.5 + 639500, 383.5 + 639500, 639.5 + 639500, 895.5 + 639500, 1151.5 + 639500}},
		// 640/256 = 2.5 rounds half to even, to 2; 480/256 = 1.875 to 2.
		{"640x480 to 2x2", 640, 480, 1.0 / 256, 1.0 / 256, nil, 2, 2, []float32{
			127.5 + 127500, 383.5 + 127500,
			127.5 + 383500, 383.5 + 383500}},
		// 360/256 rounds to 1.
		{"640x360 to 2x1", 640, 360, 1.0 / 256, 1.0 / 256, nil, 2, 1, []float32{127.5 + 127500, 383.5 + 127500}},
		// 384/256 = 1.5 rounds to 2: the second row maps to 383.5, whose
		// lower neighbour is clamped to the last row 383.
		{"256x384, last row clamped", 256, 384, 1.0 / 256, 1.0 / 256, nil, 1, 2, []float32{127.5 + 127500, 127.5 + 383000}},
		// 1.5·256 columns: the second maps to 383.5 and takes column 383 alone.
		{"384x256, last column alone", 384, 256, 1.0 / 256, 1.0 / 256, nil, 2, 1, []float32{127.5 + 127500, 383 + 127500}},
		// 1/4: d maps to 4d + 1.5.
		{"8x4 by 1/4", 8, 4, 0.25, 0.25, nil, 2, 1, []float32{1.5 + 1500, 5.5 + 1500}},
		// 2x: d maps to d/2 - 0.25. Columns: -0.25 takes column 0 alone, 0.25
		// is 3/4·S[0] + 1/4·S[1], 1.25 takes column 1 alone, giving rows
		// 0 1 3 4 and 8 10 14 16. Rows -0.25 and 1.25 mix a clamped row with
		// itself; 0.25 and 0.75 mix the two rows.
		{"2x2 by 2", 2, 2, 2, 2, []float32{0, 4, 8, 16}, 4, 4, []float32{
			0, 1, 3, 4,
			2, 3.25, 5.75, 7,
			6, 7.75, 11.25, 13,
			8, 10, 14, 16}},
		{"identity", 3, 2, 1, 1, nil, 3, 2, ramp(3, 2)},
		// Factors that keep the size copy the image.
		{"size kept", 3, 2, 0.99, 1.01, []float32{1, 2, 3, 4, 5, 6}, 3, 2, []float32{1, 2, 3, 4, 5, 6}},
		{"a single pixel by 3", 1, 1, 3, 3, []float32{7}, 3, 3, []float32{7, 7, 7, 7, 7, 7, 7, 7, 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.img
			if img == nil {
				img = ramp(tc.w, tc.h)
			}
			got, dw, dh := resizeLinear(img, tc.w, tc.h, tc.fx, tc.fy)
			if dw != tc.dw || dh != tc.dh || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("resize = %dx%d %v, want %dx%d %v", dw, dh, got, tc.dw, tc.dh, tc.want)
			}
		})
	}
}

func TestResizeLinearWeights(t *testing.T) {
	// Factor 3/4 on a row 0, 1, ..., 7: destination d maps to
	// float32((d+0.5)·4/3 - 0.5), and the result is (1-f)·S[s] + f·S[s+1].
	src := []float32{0, 10, 20, 30, 40, 50, 60, 70}
	got, dw, dh := resizeLinear(src, 8, 1, 0.75, 1)
	if dw != 6 || dh != 1 {
		t.Fatalf("size %dx%d, want 6x1", dw, dh)
	}
	for d, v := range got {
		f := float32((float64(d)+0.5)*(1/0.75) - 0.5)
		s := int(f)
		f -= float32(s)
		want := float32(src[s]*(1-f)) + float32(src[s+1]*f)
		if v != want {
			t.Errorf("dst[%d] = %v, want %v", d, v, want)
		}
	}
	// By hand: d=0 maps to 1/6, d=5 to 6.8333.
	if got[0] < 1.666 || got[0] > 1.667 || got[5] < 68.33 || got[5] > 68.34 {
		t.Errorf("dst = %v", got)
	}
}

func TestResizeLinearEmpty(t *testing.T) {
	for _, tc := range []struct{ w, h int }{{0, 4}, {100, 100}} {
		if got, dw, dh := resizeLinear(make([]float32, tc.w*tc.h), tc.w, tc.h, 1.0/256, 1.0/256); got != nil || dw != 0 || dh != 0 {
			t.Errorf("%dx%d: resize = %dx%d %v, want nothing", tc.w, tc.h, dw, dh, got)
		}
	}
}
