package plan

import (
	"reflect"
	"testing"
)

func TestFixedStride(t *testing.T) {
	ntsc := 30000.0 / 1001
	tests := []struct {
		name      string
		numFrames int
		fps       float64
		params    StrideParams
		want      []Span
	}{
		// Expected values computed with NeMo's Python loop (repr floats, int() frames).
		{"29.97 fps, 750 frames", 750, ntsc, DefaultStride(), []Span{
			{0, 10, 0, 299}, {10, 20, 299, 599}, {20, 25.025000000000002, 599, 750}}},
		{"shorter than the minimum", 40, 25, DefaultStride(), nil},
		{"last piece exactly the minimum is kept", 550, 25, DefaultStride(), []Span{
			{0, 10, 0, 250}, {10, 20, 250, 500}, {20, 22, 500, 550}}},
		{"last piece under 2 s dropped", 537, 25, DefaultStride(), []Span{
			{0, 10, 0, 250}, {10, 20, 250, 500}}},
		{"exact multiple", 900, 30, DefaultStride(), []Span{
			{0, 10, 0, 300}, {10, 20, 300, 600}, {20, 30, 600, 900}}},
		{"no frames", 0, 24, DefaultStride(), nil},
		{"unknown fps", 100, 0, DefaultStride(), nil},
		{"overlapping stride", 300, 24, StrideParams{ClipLen: 10, Stride: 5, MinClipLen: 2}, []Span{
			{0, 10, 0, 240}, {5, 12.5, 120, 300}, {10, 12.5, 240, 300}}},
		{"float accumulation as Python", 20, 25, StrideParams{ClipLen: 0.3, Stride: 0.1, MinClipLen: 0.25}, []Span{
			{0, 0.3, 0, 7}, {0.1, 0.4, 2, 10}, {0.2, 0.5, 5, 12},
			{0.30000000000000004, 0.6000000000000001, 7, 15}, {0.4, 0.7, 10, 17}, {0.5, 0.8, 12, 20}}},
		{"invalid params", 900, 30, StrideParams{ClipLen: 10, Stride: 0, MinClipLen: 2}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FixedStride(tc.numFrames, tc.fps, tc.params)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FixedStride(%d, %v) =\n%v\nwant\n%v", tc.numFrames, tc.fps, got, tc.want)
			}
		})
	}
}

func TestStrideParamsValidate(t *testing.T) {
	tests := []struct {
		params StrideParams
		ok     bool
	}{
		{DefaultStride(), true},
		{StrideParams{ClipLen: 5, Stride: 2.5, MinClipLen: 5}, true},
		{StrideParams{ClipLen: 0, Stride: 10, MinClipLen: 0}, false},
		{StrideParams{ClipLen: 10, Stride: -1, MinClipLen: 2}, false},
		{StrideParams{ClipLen: 10, Stride: 10, MinClipLen: 0}, false},
		{StrideParams{ClipLen: 2, Stride: 10, MinClipLen: 3}, false},
		{StrideParams{ClipLen: nan(), Stride: 10, MinClipLen: 2}, false},
		{StrideParams{ClipLen: inf(), Stride: 10, MinClipLen: 2}, false},
	}
	for _, tc := range tests {
		if err := tc.params.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tc.params, err, tc.ok)
		}
	}
}

func nan() float64 { zero := 0.0; return zero / zero }
func inf() float64 { zero := 0.0; return 1 / zero }

func TestSpanUUID(t *testing.T) {
	// Values from Python: uuid.uuid5(uuid.NAMESPACE_URL, name).
	tests := []struct {
		source string
		span   Span
		want   string
	}{
		{"/data/in/a/b.mp4", Span{0, 10, 0, 300}, "f3992b1b-4e43-57ba-a07b-0e4a0a0983a6"},
		{"/data/in/a/b.mp4", Span{10, 20, 299, 599}, "b9dcca74-7624-5ff7-bf03-0654044523bd"},
		{"/data/in/ünïcode clip.mp4", Span{0, 10, 0, 250}, "4031c4d1-f544-5214-8593-74ae6e5b1ce2"},
		{"/v/x y.mov", Span{20, 25, 600, 749}, "dfbffce7-e720-56b4-9850-617af0345b7a"},
	}
	for _, tc := range tests {
		if got := SpanUUID(tc.source, tc.span).String(); got != tc.want {
			t.Errorf("SpanUUID(%q, %d-%d) = %s, want %s", tc.source, tc.span.StartFrame, tc.span.EndFrame, got, tc.want)
		}
	}
}

func TestChunkUUID(t *testing.T) {
	tests := []struct {
		source string
		index  int
		want   string
	}{
		{"/data/in/a/b.mp4", 0, "9c959a35-908e-5dcc-8e15-701aeae5428d"},
		{"/data/in/a/b.mp4", 1, "43a7452b-838d-5094-a231-51664922b4e7"},
		{"/data/in/ünïcode clip.mp4", 12, "42a9fc23-9658-5d38-a68b-b9ecc72d1a11"},
	}
	for _, tc := range tests {
		if got := ChunkUUID(tc.source, tc.index).String(); got != tc.want {
			t.Errorf("ChunkUUID(%q, %d) = %s, want %s", tc.source, tc.index, got, tc.want)
		}
	}
}
