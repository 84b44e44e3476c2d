//go:build cuda

package vit

import (
	"errors"
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// arenaAlign is the byte alignment of every tensor inside a deviceArena (cuBLAS
// and coalesced loads like 256).
const arenaAlign = 256

// deviceArena is one device allocation cut into tensors, each aligned to
// arenaAlign bytes. Plan the tensors with reserve, then alloc once.
type deviceArena struct {
	base  cu.DevicePtr
	bytes int64
}

// reserve adds n floats to the plan and returns their byte offset.
func (a *deviceArena) reserve(n int) int64 {
	off := a.bytes
	a.bytes += (int64(n)*4 + arenaAlign - 1) / arenaAlign * arenaAlign
	return off
}

// alloc makes the one allocation for everything reserved.
func (a *deviceArena) alloc(what string) error {
	if a.bytes == 0 {
		a.bytes = arenaAlign
	}
	p, err := cu.MemAlloc(a.bytes)
	if err != nil {
		return fmt.Errorf("vit: cuda: allocating %d MiB for %s: %w", a.bytes>>20, what, err)
	}
	a.base = p
	return nil
}

// at is the device address of a reserved offset.
func (a *deviceArena) at(off int64) cu.DevicePtr { return a.base + cu.DevicePtr(off) }

// free releases the allocation; safe on a nil or unallocated deviceArena.
func (a *deviceArena) free(what string) error {
	if a == nil || a.base == 0 {
		return nil
	}
	err := cu.MemFree(a.base)
	a.base = 0
	if err != nil {
		return fmt.Errorf("vit: cuda: freeing %s: %w", what, err)
	}
	return nil
}

// deviceLayer holds one encoder layer's weights on the device. Q, K and V
// are fused into one [3·hidden, hidden] matrix and one [3·hidden] bias.
type deviceLayer struct {
	ln1W, ln1B, qkvW, qkvB, oW, oB, ln2W, ln2B, fc1W, fc1B, fc2W, fc2B cu.DevicePtr
}

// deviceWeights is the whole model on the device, in one deviceArena.
type deviceWeights struct {
	mem                          deviceArena
	patchW, cls, pos, preW, preB cu.DevicePtr
	layers                       []deviceLayer
	postW, postB, proj           cu.DevicePtr
}

// pointers lists every tensor address of w, for rebasing.
func (w *deviceWeights) pointers() []*cu.DevicePtr {
	p := []*cu.DevicePtr{&w.patchW, &w.cls, &w.pos, &w.preW, &w.preB, &w.postW, &w.postB, &w.proj}
	for i := range w.layers {
		l := &w.layers[i]
		p = append(p, &l.ln1W, &l.ln1B, &l.qkvW, &l.qkvB, &l.oW, &l.oB, &l.ln2W, &l.ln2B,
			&l.fc1W, &l.fc1B, &l.fc2W, &l.fc2B)
	}
	return p
}

// weightUpload is one host tensor bound for an offset in the deviceArena.
type weightUpload struct {
	name string
	off  int64
	data []float32
}

// weightPlan lays the tensors out in a deviceArena, checking their lengths.
type weightPlan struct {
	mem deviceArena
	ups []weightUpload
	err error // the first length that did not match
}

// add plans the parts, each of want floats, as one contiguous tensor
// (several parts make a fused one) and returns its offset, to be rebased.
func (p *weightPlan) add(name string, want int, parts ...[]float32) cu.DevicePtr {
	off := p.mem.reserve(want * len(parts))
	for i, data := range parts {
		part := name
		if len(parts) > 1 {
			part = fmt.Sprintf("%s (part %d of %d)", name, i+1, len(parts))
		}
		if p.err == nil && len(data) != want {
			p.err = fmt.Errorf("vit: cuda: weight %s has %d values, want %d", part, len(data), want)
		}
		p.ups = append(p.ups, weightUpload{part, off + int64(i*want)*4, data})
	}
	return cu.DevicePtr(off)
}

// planWeights returns m's tensors laid out in one deviceArena, each field of the
// result holding its offset.
func planWeights(m *Model) (*deviceWeights, *weightPlan, error) {
	c := m.Config
	d, in, t := c.HiddenSize, c.IntermediateSize, c.Patches()+1
	if len(m.Layers) != c.Layers {
		return nil, nil, fmt.Errorf("vit: cuda: model has %d layers, config says %d", len(m.Layers), c.Layers)
	}
	p := &weightPlan{}
	w := &deviceWeights{
		patchW: p.add("patch embedding", d*3*c.PatchSize*c.PatchSize, m.PatchW),
		cls:    p.add("class embedding", d, m.ClassEmb),
		pos:    p.add("position embedding", t*d, m.PosEmb),
		preW:   p.add("pre-layernorm weight", d, m.PreLNW),
		preB:   p.add("pre-layernorm bias", d, m.PreLNB),
		layers: make([]deviceLayer, c.Layers),
	}
	for i := range m.Layers {
		l, n := &m.Layers[i], fmt.Sprintf("layer %d ", i)
		w.layers[i] = deviceLayer{
			ln1W: p.add(n+"layernorm 1 weight", d, l.LN1W),
			ln1B: p.add(n+"layernorm 1 bias", d, l.LN1B),
			qkvW: p.add(n+"q|k|v weight", d*d, l.QW, l.KW, l.VW),
			qkvB: p.add(n+"q|k|v bias", d, l.QB, l.KB, l.VB),
			oW:   p.add(n+"out weight", d*d, l.OW),
			oB:   p.add(n+"out bias", d, l.OB),
			ln2W: p.add(n+"layernorm 2 weight", d, l.LN2W),
			ln2B: p.add(n+"layernorm 2 bias", d, l.LN2B),
			fc1W: p.add(n+"fc1 weight", in*d, l.FC1W),
			fc1B: p.add(n+"fc1 bias", in, l.FC1B),
			fc2W: p.add(n+"fc2 weight", d*in, l.FC2W),
			fc2B: p.add(n+"fc2 bias", d, l.FC2B),
		}
	}
	w.postW = p.add("post-layernorm weight", d, m.PostLNW)
	w.postB = p.add("post-layernorm bias", d, m.PostLNB)
	w.proj = p.add("projection", c.ProjectionDim*d, m.Proj)
	return w, p, p.err
}

// uploadWeights checks every tensor's length against the config and
// copies them all to one device allocation. The context must be bound.
func uploadWeights(m *Model) (*deviceWeights, error) {
	w, plan, err := planWeights(m)
	if err != nil {
		return nil, err
	}
	w.mem = plan.mem
	if err := w.mem.alloc("the weights"); err != nil {
		return nil, err
	}
	for _, u := range plan.ups {
		if err := cu.MemcpyHtoD(w.mem.at(u.off), unsafe.Pointer(&u.data[0]), int64(len(u.data))*4); err != nil {
			return nil, errors.Join(fmt.Errorf("vit: cuda: uploading %s: %w", u.name, err), w.free())
		}
	}
	for _, p := range w.pointers() {
		*p = w.mem.at(int64(*p))
	}
	return w, nil
}

// free releases the weights; safe on nil.
func (w *deviceWeights) free() error {
	if w == nil {
		return nil
	}
	return w.mem.free("the weights")
}
