package pack

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestNPYGolden(t *testing.T) {
	for _, g := range goldenArrays {
		if g.large() {
			continue // no .npy golden: the large arrays test pickle framing
		}
		t.Run(g.name, func(t *testing.T) {
			a := g.array(t)
			want := readGolden(t, filepath.Join("npy", g.name+".npy"))
			got := NPY(a)
			if !bytes.Equal(got, want) {
				t.Fatalf("NPY differs from numpy.save\n got: %q\nwant: %q", head(got), head(want))
			}
			if size := NPYSize(a); size != int64(len(want)) {
				t.Errorf("NPYSize = %d, want %d", size, len(want))
			}
			if (len(got)-len(a.Data))%64 != 0 {
				t.Errorf("data starts at %d, not 64-byte aligned", len(got)-len(a.Data))
			}
		})
	}
}

func TestNPYHeaderAlignment(t *testing.T) {
	// Shapes whose header text lands on and around a 64-byte boundary.
	for _, shape := range [][]int{{1}, {12345678901}, {1, 2, 3, 4, 5, 6, 7, 8}, {7, 1, 1, 1, 1, 1, 1, 1, 1, 1}} {
		a := Array{DType: Float16, Shape: shape}
		h := npyHeader(a)
		if len(h)%64 != 0 || h[len(h)-1] != '\n' || h[6] != 1 {
			t.Errorf("shape %v: header %q (%d bytes)", shape, h, len(h))
		}
	}
}
