package curate

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/clipfs/clipfs/curate/vit"
)

// countingRuntime is the real CPU runtime, counting calls and images.
type countingRuntime struct {
	vit.Runtime
	mu            sync.Mutex
	calls, images int
	first         func() // run before the first call
}

func (c *countingRuntime) Embed(images [][]float32) ([][]float32, error) {
	c.mu.Lock()
	if c.calls == 0 && c.first != nil {
		c.first()
	}
	c.calls++
	c.images += len(images)
	c.mu.Unlock()
	return c.Runtime.Embed(images)
}

// TestModelQueueBatchesAcrossCallers: concurrent callers get exactly what
// the model gives for their own images, in fewer model calls than callers.
func TestModelQueueBatchesAcrossCallers(t *testing.T) {
	cfg := vit.Config{HiddenSize: 32, IntermediateSize: 64, Layers: 1, Heads: 2, PatchSize: 8, ImageSize: 16,
		ProjectionDim: 8, LayerNormEps: 1e-5}
	m := vit.RandomModel(cfg, 7)
	cpu, err := vit.NewRuntime(m, vit.DeviceCPU)
	if err != nil {
		t.Fatal(err)
	}
	rt := &countingRuntime{Runtime: cpu}
	q := NewModelQueue(rt, m, 16)
	const callers, per = 12, 3
	rt.first = func() { // hold the first call until every other caller has queued
		for deadline := time.Now().Add(10 * time.Second); len(q.reqs) < callers-1 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	inputs := make([][][]float32, callers)
	for c := range inputs {
		for i := range per {
			img := make([]float32, 3*16*16)
			for j := range img {
				img[j] = float32(math.Sin(float64(c*1000 + i*100 + j)))
			}
			inputs[c] = append(inputs[c], img)
		}
	}
	outs := make([][][]float32, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			var err error
			if outs[c], err = q.Embed(context.Background(), inputs[c]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	q.Close()
	for c := range callers {
		want, err := cpu.Embed(inputs[c])
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			for j := range want[i] {
				if d := math.Abs(float64(want[i][j] - outs[c][i][j])); d > 1e-5 {
					t.Fatalf("caller %d image %d [%d]: %v, alone %v", c, i, j, outs[c][i][j], want[i][j])
				}
			}
		}
	}
	// 1 call, then the 11 queued callers' 33 images in batches of <= 16 + one caller.
	if rt.images != callers*per || rt.calls > 4 {
		t.Errorf("%d model calls for %d images from %d callers: no batching", rt.calls, rt.images, callers)
	}
	t.Logf("%d callers, %d model calls", callers, rt.calls)
}

func TestOneFPS(t *testing.T) {
	for _, c := range []struct {
		n    int
		fps  float64
		want []int
	}{{75, 25, []int{0, 25, 50}}, {76, 25, []int{0, 25, 50, 75}}, {90, 29.97, []int{0, 29, 59, 89}}, {10, 30, []int{0}}, {0, 30, nil}} {
		got := oneFPS(c.n, c.fps)
		if len(got) != len(c.want) {
			t.Errorf("oneFPS(%d, %v) = %v, want %v", c.n, c.fps, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("oneFPS(%d, %v) = %v, want %v", c.n, c.fps, got, c.want)
				break
			}
		}
	}
}
