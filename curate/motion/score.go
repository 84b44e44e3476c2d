package motion

import "math"

// Score is a clip's motion score: NeMo's MotionInfo without the verdict.
type Score struct {
	// GlobalMean is the mean flow magnitude, over all pixels and sampled
	// frames, in units of W+H.
	GlobalMean float64 `json:"global_mean"`
	// PerPatchMin256 is the smallest value of the per-pixel mean magnitude
	// image resized by 1/256 (about one value per 256×256 patch).
	PerPatchMin256 float64 `json:"per_patch_min_256"`
}

// Missing is the score of a clip whose motion could not be measured: both
// values -1, which counts as small motion.
func Missing() Score { return Score{GlobalMean: -1, PerPatchMin256: -1} }

// Thresholds are the bounds under which a clip has small motion.
type Thresholds struct {
	GlobalMean, PerPatchMin256 float64
}

// DefaultThresholds are NeMo's: 0.00098 for GlobalMean, 1e-6 for
// PerPatchMin256.
func DefaultThresholds() Thresholds {
	return Thresholds{GlobalMean: 0.00098, PerPatchMin256: 0.000001}
}

// Small reports whether s is small motion under t: either value below its
// threshold.
func (s Score) Small(t Thresholds) bool {
	return s.GlobalMean < t.GlobalMean || s.PerPatchMin256 < t.PerPatchMin256
}

// Compute scores decoded motion vectors as NeMo's check_if_small_motion. It
// returns Missing() when d has no frames or no size.
func Compute(d Decoded) Score {
	if len(d.Frames) == 0 || d.Width <= 0 || d.Height <= 0 {
		return Missing()
	}
	m := newMotionSum(d.Width, d.Height)
	for _, vs := range d.Frames {
		m.add(vs)
	}
	return m.score()
}

// blockSizes are the (w, h) blocks that make up the flow, in the order NeMo
// writes them; vectors of other sizes are ignored.
var blockSizes = [...][2]uint8{{8, 8}, {16, 16}, {16, 8}, {8, 16}}

const (
	// batchFrames is check_if_small_motion's batch: sums are float32 per batch.
	batchFrames = 256
	// torch's float32 reduction over frames (multi_row_sum) adds rows in
	// chunks of 1<<sumLevelPower into sumLevels cascaded accumulators.
	sumLevels     = 4
	sumLevelPower = 4
	sumLevelMask  = 1<<sumLevelPower - 1
	// patchScale is the resize factor of per_patch_min_256.
	patchScale = 1.0 / 256
)

// motionSum accumulates flow magnitudes over frames as check_if_small_motion.
type motionSum struct {
	w, h      int
	norm      float32   // W + H
	mag       []float32 // ‖flow‖₂/(W+H) per pixel of the current frame
	levels    [sumLevels][]float32
	pixelSum  []float32 // per_pixel_sum_tensor
	batchRows int       // frames in the current batch
	batchSum  float64   // magnitudes.sum() of the current batch
	globalSum float32   // global_sum_tensor
	frames    int
}

func newMotionSum(w, h int) *motionSum {
	m := &motionSum{w: w, h: h, norm: float32(w + h), mag: make([]float32, w*h)}
	m.levels[0] = make([]float32, w*h)
	return m
}

// add accumulates one frame's vectors.
func (m *motionSum) add(vs []Vector) {
	clear(m.mag)
	m.fill(vs)
	m.accumulate()
	m.frames++
	m.batchRows++
	if m.batchRows&sumLevelMask == 0 {
		m.cascade()
	}
	if m.batchRows == batchFrames {
		m.endBatch()
	}
}

// fill writes each vector's flow magnitude into its block, centred on dst
// and clamped to the frame; later writes win, block sizes in blockSizes
// order. NeMo writes the flow -motion/scale and takes its norm per pixel
// afterwards; as a pixel's magnitude depends only on the vector that wrote it
// last, writing the vector's magnitude is the same, with one square root per
// vector instead of one per pixel.
func (m *motionSum) fill(vs []Vector) {
	for _, b := range blockSizes {
		bw, bh := int(b[0]), int(b[1])
		for i := range vs {
			v := &vs[i]
			if v.W != b[0] || v.H != b[1] {
				continue
			}
			mag := m.magnitude(v)
			x0 := clampInt(int(v.DstX)-bw/2, 0, m.w-1)
			x1 := clampInt(int(v.DstX)+bw/2-1, 0, m.w-1)
			y0 := clampInt(int(v.DstY)-bh/2, 0, m.h-1)
			y1 := clampInt(int(v.DstY)+bh/2-1, 0, m.h-1)
			for y := y0; y <= y1; y++ {
				row := m.mag[y*m.w+x0 : y*m.w+x1+1]
				for k := range row {
					row[k] = mag
				}
			}
		}
	}
}

// magnitude is NeMo's per-pixel value for v, all in float32 as torch:
// delta = -motion/scale, sqrt((0 + dx²) + dy²), divided by W+H.
func (m *motionSum) magnitude(v *Vector) float32 {
	scale := float32(v.Scale)
	dx, dy := -float32(v.MotionX)/scale, -float32(v.MotionY)/scale
	sq := float32(dx*dx) + float32(dy*dy)
	return float32(math.Sqrt(float64(sq))) / m.norm
}

// accumulate adds the frame's magnitudes to the per-pixel accumulator and
// the batch sum.
func (m *motionSum) accumulate() {
	acc := m.levels[0]
	mag := m.mag[:len(acc)]
	var s0, s1, s2, s3 float64
	p := 0
	for ; p+4 <= len(acc); p += 4 {
		a, b, c, d := mag[p], mag[p+1], mag[p+2], mag[p+3]
		acc[p] += a
		acc[p+1] += b
		acc[p+2] += c
		acc[p+3] += d
		s0 += float64(a)
		s1 += float64(b)
		s2 += float64(c)
		s3 += float64(d)
	}
	for ; p < len(acc); p++ {
		acc[p] += mag[p]
		s0 += float64(mag[p])
	}
	m.batchSum += (s0 + s1) + (s2 + s3)
}

// cascade moves completed chunks up the accumulator levels as torch's
// multi_row_sum does after every 16 rows.
func (m *motionSum) cascade() {
	for j := 1; j < sumLevels; j++ {
		if m.levels[j] == nil {
			m.levels[j] = make([]float32, m.w*m.h)
		}
		hi, lo := m.levels[j], m.levels[j-1]
		for p := range hi {
			hi[p] += lo[p]
			lo[p] = 0
		}
		if m.batchRows&(sumLevelMask<<(j*sumLevelPower)) != 0 {
			break
		}
	}
}

// endBatch folds the batch's sums into the running totals.
func (m *motionSum) endBatch() {
	acc := m.levels[0]
	for _, l := range m.levels[1:] {
		for p := range l {
			acc[p] += l[p]
			l[p] = 0
		}
	}
	if m.pixelSum == nil {
		m.pixelSum = make([]float32, len(acc))
	}
	for p, v := range acc {
		m.pixelSum[p] += v
		acc[p] = 0
	}
	m.globalSum += float32(m.batchSum)
	m.batchSum, m.batchRows = 0, 0
}

// score finishes the sums: the global mean and the per-patch minimum.
func (m *motionSum) score() Score {
	if m.batchRows > 0 {
		m.endBatch()
	}
	total := float32(m.frames * m.w * m.h)
	n := float32(m.frames)
	avg := m.pixelSum
	for p := range avg {
		avg[p] /= n
	}
	patches, _, _ := resizeLinear(avg, m.w, m.h, patchScale, patchScale)
	return Score{
		GlobalMean:     float64(m.globalSum / total),
		PerPatchMin256: float64(minFloat32(patches)),
	}
}

// minFloat32 is numpy's min: NaN if any value is NaN.
func minFloat32(vs []float32) float32 {
	if len(vs) == 0 {
		return float32(math.NaN())
	}
	lo := vs[0]
	for _, v := range vs {
		if v != v {
			return v
		}
		lo = min(lo, v)
	}
	return lo
}
