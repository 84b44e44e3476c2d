package transnet

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkScores scores 500 frames (ten windows) of random pixels with
// the reference's random weights, on all cores; compare its frames/s with
// `reference.py bench` (bench/run.sh transnet does both, with the weights
// in TRANSNET_WEIGHTS and the frames of a real video in
// TRANSNET_BENCH_FRAMES).
func BenchmarkScores(b *testing.B) {
	path := os.Getenv("TRANSNET_WEIGHTS")
	if path == "" {
		path = filepath.Join(referenceWeights(b), "model.pth")
	}
	m, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	net := NewNet(m, 0)
	frames := 500
	if s := os.Getenv("TRANSNET_BENCH_FRAMES"); s != "" {
		if rgb, err := os.ReadFile(s); err == nil {
			frames = len(rgb) / FrameBytes
			benchFrames = rgb[:frames*FrameBytes]
		}
	}
	rgb := benchFrames
	if rgb == nil {
		rng := rand.New(rand.NewPCG(1, 2))
		rgb = make([]byte, frames*FrameBytes)
		for i := range rgb {
			rgb[i] = byte(rng.UintN(256))
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := net.Scores(rgb); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(frames*b.N)/b.Elapsed().Seconds(), "frames/s")
}

var benchFrames []byte
