package plan

import (
	"reflect"
	"testing"
)

func TestEvenFrames(t *testing.T) {
	tests := []struct {
		name string
		w    Window
		n    int
		want []int
	}{
		{"four of ten", Window{0, 9}, 4, []int{1, 3, 6, 8}},
		{"one is the middle", Window{0, 99}, 1, []int{50}},
		{"eight of a later window", Window{256, 511}, 8, []int{272, 304, 336, 368, 400, 432, 464, 496}},
		{"as many as frames", Window{5, 7}, 3, []int{5, 6, 7}},
		{"more than frames", Window{5, 7}, 10, []int{5, 6, 7}},
		{"zero", Window{0, 9}, 0, nil},
		{"negative", Window{0, 9}, -2, nil},
		{"empty window", Window{4, 3}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EvenFrames(tc.w, tc.n); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("EvenFrames(%v, %d) = %v, want %v", tc.w, tc.n, got, tc.want)
			}
		})
	}
	for start := 0; start < 3; start++ {
		for length := 1; length < 70; length++ {
			w := Window{start, start + length - 1}
			for n := 1; n <= length+1; n++ {
				got := EvenFrames(w, n)
				if len(got) != min(n, length) {
					t.Fatalf("EvenFrames(%v, %d) has %d frames", w, n, len(got))
				}
				for k, f := range got {
					if f < w.Start || f > w.End || (k > 0 && f <= got[k-1]) {
						t.Fatalf("EvenFrames(%v, %d) = %v: not ascending inside the window", w, n, got)
					}
				}
			}
		}
	}
}
