package media

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestResizeMatchesOpenCV compares resizeBGR with cv2.resize(INTER_LINEAR)
// of OpenCV 4.6 on random images (testdata/resize, written by make.py):
// downscales by non-integer factors, portrait, an exact halving (OpenCV's
// INTER_AREA), one axis only and an upscale, every byte equal.
func TestResizeMatchesOpenCV(t *testing.T) {
	dir := filepath.Join("testdata", "resize")
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Width     int `json:"width"`
			Height    int `json:"height"`
			DstWidth  int `json:"dst_width"`
			DstHeight int `json:"dst_height"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Cases) == 0 {
		t.Fatalf("cases.json: %v", err)
	}
	for i, c := range doc.Cases {
		src, err1 := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.src", i)))
		want, err2 := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.dst", i)))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		got := make([]byte, len(want))
		resizeBGR(got, src, c.Width, c.Height, c.DstWidth, c.DstHeight)
		if !bytes.Equal(got, want) {
			n, first := 0, -1
			for j := range got {
				if got[j] != want[j] {
					n++
					if first < 0 {
						first = j
					}
				}
			}
			t.Errorf("%dx%d -> %dx%d: %d of %d bytes differ from OpenCV's, the first at byte %d (%d, want %d)",
				c.Width, c.Height, c.DstWidth, c.DstHeight, n, len(got), first, got[first], want[first])
		}
	}
}
