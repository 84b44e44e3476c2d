package curate

import (
	"context"
	"fmt"
	"sync"

	"github.com/clipfs/clipfs/curate/vit"
)

// ModelQueue runs one vision model for every clip of a run: clips hand it
// their frames and it batches frames of many clips into one Embed call (up
// to Batch images), so a GPU sees large batches and a CPU model one call at
// a time.
type ModelQueue struct {
	rt    vit.Runtime
	size  int // input side in pixels
	batch int
	reqs  chan *embedRequest
	once  sync.Once
	ended chan struct{} // closed when run returns
	// admit bounds the clips holding decoded frames (between frame
	// extraction and the end of their Embed), so that memory stays bounded
	// when the model is slower than ffmpeg.
	admit chan struct{}
}

type embedRequest struct {
	ctx    context.Context
	images [][]float32
	out    [][]float32
	err    error
	done   chan struct{}
}

// NewModelQueue wraps a runtime of model m; batch <= 0 means 64.
func NewModelQueue(rt vit.Runtime, m *vit.Model, batch int) *ModelQueue {
	if batch <= 0 {
		batch = 64
	}
	return &ModelQueue{rt: rt, size: m.Config.ImageSize, batch: batch, reqs: make(chan *embedRequest, 64),
		ended: make(chan struct{}), admit: make(chan struct{}, max(4, 2*batch/8))}
}

// Device names where the model runs.
func (q *ModelQueue) Device() string { return q.rt.Device() }

// run serves requests until Close, batching what is queued.
func (q *ModelQueue) run() {
	defer close(q.ended)
	for first := range q.reqs {
		if abandoned(first) {
			continue
		}
		group := []*embedRequest{first}
		n := len(first.images)
	more:
		for n < q.batch {
			select {
			case r, ok := <-q.reqs:
				if !ok {
					break more
				}
				if abandoned(r) {
					continue
				}
				group = append(group, r)
				n += len(r.images)
			default:
				break more
			}
		}
		all := make([][]float32, 0, n)
		for _, r := range group {
			all = append(all, r.images...)
		}
		out, err := q.rt.Embed(all)
		if err == nil && len(out) != len(all) {
			err = fmt.Errorf("model returned %d embeddings for %d images", len(out), len(all))
		}
		at := 0
		for _, r := range group {
			if err != nil {
				r.err = err
			} else {
				r.out = out[at : at+len(r.images)]
			}
			at += len(r.images)
			close(r.done)
		}
	}
}

// abandoned answers a request whose caller has gone (cancelled) without
// computing it.
func abandoned(r *embedRequest) bool {
	if err := r.ctx.Err(); err != nil {
		r.err = err
		close(r.done)
		return true
	}
	return false
}

// Embed returns the image embeddings of preprocessed images (not
// normalised), batched with other callers' images.
func (q *ModelQueue) Embed(ctx context.Context, images [][]float32) ([][]float32, error) {
	q.once.Do(func() { go q.run() })
	r := &embedRequest{ctx: ctx, images: images, done: make(chan struct{})}
	select {
	case q.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the queue once the model call in hand is done; no Embed may
// be called during or after it. The runtime is the caller's to close.
func (q *ModelQueue) Close() {
	started := true
	q.once.Do(func() { started = false }) // never start after Close
	close(q.reqs)
	if started {
		<-q.ended
	}
}
