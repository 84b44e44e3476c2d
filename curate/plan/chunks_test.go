package plan

import (
	"reflect"
	"testing"
)

// spansOf makes spans of the given durations laid end to end.
func spansOf(durations ...float64) []Span {
	var spans []Span
	start := 0.0
	for _, d := range durations {
		spans = append(spans, Span{Start: start, End: start + d})
		start += d
	}
	return spans
}

func repeatDuration(d float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestGroupChunks(t *testing.T) {
	tests := []struct {
		name  string
		spans []Span
		limit int
		want  []int // chunk sizes
	}{
		{"empty", nil, 256, nil},
		{"one short clip", spansOf(3), 256, []int{1}},
		{"26 clips of 10 s close at 260", spansOf(repeatDuration(10, 26)...), 256, []int{26}},
		{"27 clips of 10 s", spansOf(repeatDuration(10, 27)...), 256, []int{26, 1}},
		{"32 clips of 8 s", spansOf(repeatDuration(8, 64)...), 256, []int{32, 32}},
		{"durations truncate: 9.99 counts 9", spansOf(repeatDuration(9.99, 30)...), 256, []int{29, 1}},
		{"clips under 1 s count nothing", spansOf(repeatDuration(0.9, 5)...), 1, []int{5}},
		{"small limit", spansOf(5, 5, 5), 10, []int{2, 1}},
		{"limit 0: one per chunk", spansOf(5, 5), 0, []int{1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chunks := GroupChunksLimit(tc.spans, tc.limit)
			var sizes []int
			var joined []Span
			for _, c := range chunks {
				sizes = append(sizes, len(c))
				joined = append(joined, c...)
			}
			if !reflect.DeepEqual(sizes, tc.want) {
				t.Errorf("chunk sizes = %v, want %v", sizes, tc.want)
			}
			if len(joined) != len(tc.spans) || (len(joined) > 0 && !reflect.DeepEqual(joined, tc.spans)) {
				t.Errorf("chunks do not hold the spans in order")
			}
		})
	}
}

func TestGroupChunksDefaultAndAliasing(t *testing.T) {
	spans := spansOf(repeatDuration(10, 30)...)
	chunks := GroupChunks(spans)
	if len(chunks) != 2 || len(chunks[0]) != 26 || len(chunks[1]) != 4 {
		t.Fatalf("GroupChunks(30 × 10 s) sizes wrong: %d chunks", len(chunks))
	}
	_ = append(chunks[0], Span{Start: -1})
	if chunks[1][0].Start != 260 {
		t.Errorf("appending to one chunk overwrote the next")
	}
}
