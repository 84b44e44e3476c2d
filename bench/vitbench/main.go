//go:build cuda

package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clipfs/clipfs/curate/vit"
)

// vitB32 is CLIP ViT-B/32's vision tower.
var vitB32 = vit.Config{HiddenSize: 768, IntermediateSize: 3072, Layers: 12, Heads: 12,
	PatchSize: 32, ImageSize: 224, ProjectionDim: 512, LayerNormEps: 1e-5}

func main() {
	devices := flag.String("devices", "cpu,cuda", "comma-separated devices: cpu, cuda")
	batches := flag.String("batches", "1,64,256", "comma-separated batch sizes")
	minTime := flag.Duration("min-time", 3*time.Second, "time each (device, batch) for at least this long")
	minIters := flag.Int("min-iters", 3, "and at least this many batches")
	flag.Parse()

	sizes, err := parseBatches(*batches)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vitbench:", err)
		os.Exit(2)
	}
	m := vit.RandomModel(vitB32, 1)
	fmt.Printf("%-28s %6s %6s %9s %10s\n", "device", "batch", "iters", "seconds", "frames/s")
	for _, dev := range strings.Split(*devices, ",") {
		if err := benchDevice(m, strings.TrimSpace(dev), sizes, *minTime, *minIters); err != nil {
			fmt.Fprintln(os.Stderr, "vitbench:", err)
			os.Exit(1)
		}
	}
}

// parseBatches reads "1,64,256".
func parseBatches(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("batch size %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchDevice times every batch size on one device and prints a line each.
func benchDevice(m *vit.Model, device string, sizes []int, minTime time.Duration, minIters int) error {
	rt, err := vit.NewRuntime(m, device)
	if err != nil {
		return err
	}
	defer rt.Close()
	for _, batch := range sizes {
		images := randomImages(m.Config, batch)
		if _, err := rt.Embed(images); err != nil { // warm up
			return fmt.Errorf("%s batch %d: %w", device, batch, err)
		}
		iters := 0
		start := time.Now()
		for iters < minIters || time.Since(start) < minTime {
			if _, err := rt.Embed(images); err != nil {
				return fmt.Errorf("%s batch %d: %w", device, batch, err)
			}
			iters++
		}
		secs := time.Since(start).Seconds()
		fmt.Printf("%-28s %6d %6d %9.3f %10.1f\n", rt.Device(), batch, iters, secs, float64(batch*iters)/secs)
	}
	return nil
}

// randomImages makes batch preprocessed-looking images (values in [-2, 2]).
func randomImages(c vit.Config, batch int) [][]float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]float32, batch)
	for i := range out {
		img := make([]float32, 3*c.ImageSize*c.ImageSize)
		for j := range img {
			img[j] = float32(rng.Float64()*4 - 2)
		}
		out[i] = img
	}
	return out
}
