package media

import "math"

// bgrResizer is OpenCV's cv::resize(src, dst, Size(dw, dh), 0, 0,
// INTER_LINEAR) of packed 8-bit 3-channel w × h images, bit for bit as
// OpenCV 4 computes it on x86-64 (PySceneDetect downscales every frame so).
// It is made once per video and reads the source a row at a time, so that a
// frame needs to exist only where the resize reads it (columns).
//
// OpenCV works in fixed point for 8-bit images. Each destination column dx
// maps to the source coordinate fx = float32((dx+0.5)·w/dw - 0.5), split
// into sx = floor(fx) and the weights round((1-fx')·2048) and
// round(fx'·2048) (fx' = fx - sx; a column left of the image takes column 0
// alone, one at or right of the last column the last column alone). The
// horizontal pass keeps the sums, up to 255·2048, as integers; rows map
// alike, both source rows clamped into the image. The vertical pass is
// OpenCV's SIMD one (VResizeLinearVec_32s8u): each sum shifted right by 4,
// multiplied by its weight keeping the high 16 bits, the two added, then
// (x+2)>>2 with saturation. OpenCV's scalar formula, (s0·b0 + s1·b1 + 2^21)
// >> 22, rounds differently; measured against cv2.resize of OpenCV 4.6 on
// rows of 6 to 768 bytes, the vector one gives every byte, the ends of rows
// included. (A one-pixel-wide result differs from both; PySceneDetect never
// asks for one.)
//
// An exact halving in both directions is OpenCV's INTER_AREA instead
// (each output the rounded mean of a 2×2 block), and a size that does not
// change is a copy, as cv::resize does.
type bgrResizer struct {
	w, h, dw, dh int
	mode         int     // resizeLinear, resizeHalve or resizeCopy
	cols         []int32 // the source columns the resize reads, in order
	xofs, alpha  []int32
	xmax         int
	rows         [2][]int32 // horizontal passes of two source rows
	rowOf        [2]int
	held         []byte // halve: a copy of the first row of a pair
}

const (
	resizeLinear = iota
	resizeHalve
	resizeCopy
)

const bgr = 3 // channels

func newBGRResizer(w, h, dw, dh int) *bgrResizer {
	r := &bgrResizer{w: w, h: h, dw: dw, dh: dh}
	scaleX, scaleY := float64(w)/float64(dw), float64(h)/float64(dh)
	switch {
	case dw == w && dh == h:
		r.mode = resizeCopy
	case scaleX == 2 && scaleY == 2:
		r.mode = resizeHalve
	}
	if r.mode != resizeLinear {
		r.cols = make([]int32, w)
		for x := range r.cols {
			r.cols[x] = int32(x)
		}
		return r
	}
	r.xofs, r.alpha, r.xmax = make([]int32, dw*bgr), make([]int32, dw*bgr*2), dw
	need := make([]bool, w)
	for dx := range dw {
		fx := float32((float64(dx)+0.5)*scaleX - 0.5)
		sx := int(math.Floor(float64(fx)))
		fx -= float32(sx)
		if sx < 0 {
			fx, sx = 0, 0
		}
		if sx+1 >= w {
			r.xmax = min(r.xmax, dx)
			if sx >= w-1 {
				fx, sx = 0, w-1
			}
		}
		need[sx] = true
		if dx < r.xmax {
			need[sx+1] = true
		}
		a0, a1 := coef(1-fx), coef(fx)
		for k := range bgr {
			r.xofs[dx*bgr+k] = int32(sx*bgr + k)
			r.alpha[(dx*bgr+k)*2], r.alpha[(dx*bgr+k)*2+1] = a0, a1
		}
	}
	for x, n := range need {
		if n {
			r.cols = append(r.cols, int32(x))
		}
	}
	r.rows = [2][]int32{make([]int32, dw*bgr), make([]int32, dw*bgr)}
	return r
}

// resizeBGR resizes the packed image src into dst (a bgrResizer used once).
func resizeBGR(dst, src []byte, w, h, dw, dh int) {
	newBGRResizer(w, h, dw, dh).resize(dst, func(y int) []byte { return src[y*w*bgr:][:w*bgr] })
}

// resize writes the dw × dh result into dst, reading source row y through
// row(y): a w × 3 slice of which only the columns in r.cols are read.
func (r *bgrResizer) resize(dst []byte, row func(y int) []byte) {
	switch r.mode {
	case resizeCopy:
		for y := range r.h {
			copy(dst[y*r.w*bgr:][:r.w*bgr], row(y))
		}
		return
	case resizeHalve:
		r.halve(dst, row)
		return
	}
	r.rowOf = [2]int{-1, -1}
	width := r.dw * bgr
	scaleY := float64(r.h) / float64(r.dh)
	for dy := range r.dh {
		fy := float32((float64(dy)+0.5)*scaleY - 0.5)
		sy := int(math.Floor(float64(fy)))
		fy -= float32(sy)
		b0, b1 := coef(1-fy), coef(fy)
		y0, y1 := min(max(sy, 0), r.h-1), min(max(sy+1, 0), r.h-1)
		s0 := r.hrow(0, y0, row)
		s1 := s0
		if y1 != y0 {
			s1 = r.hrow(1, y1, row)
		}
		out := dst[dy*width:][:width]
		for x := range width {
			v := (s0[x]>>4*b0)>>16 + (s1[x]>>4*b1)>>16
			out[x] = sat8((v + 2) >> 2)
		}
	}
}

// hrow returns the horizontal pass of source row y in buffer k, reusing
// what the previous output row computed (for a downscale the rows move
// down by at most one buffer).
func (r *bgrResizer) hrow(k, y int, row func(int) []byte) []int32 {
	switch {
	case r.rowOf[k] == y:
	case k == 0 && r.rowOf[1] == y:
		r.rows[0], r.rows[1] = r.rows[1], r.rows[0]
		r.rowOf[0], r.rowOf[1] = r.rowOf[1], r.rowOf[0]
	default:
		s, out := row(y), r.rows[k]
		for x := range out {
			i := r.xofs[x]
			if x/bgr >= r.xmax {
				out[x] = int32(s[i]) * 2048
				continue
			}
			out[x] = int32(s[i])*r.alpha[2*x] + int32(s[i+bgr])*r.alpha[2*x+1]
		}
		r.rowOf[k] = y
	}
	return r.rows[k]
}

// coef is OpenCV's saturate_cast<short>(c·INTER_RESIZE_COEF_SCALE), the
// product in float32, rounded half to even.
func coef(c float32) int32 { return int32(math.RoundToEven(float64(c * 2048))) }

func sat8(v int32) byte { return byte(min(max(v, 0), 255)) }

// halve is OpenCV's fast INTER_AREA for an exact halving: each output byte
// (a+b+c+d+2)>>2 of its 2×2 block.
func (r *bgrResizer) halve(dst []byte, row func(int) []byte) {
	for dy := range r.dh {
		r.held = append(r.held[:0], row(2*dy)...) // the row source may reuse its buffer
		r0 := r.held
		r1 := row(2*dy + 1)
		out := dst[dy*r.dw*bgr:][:r.dw*bgr]
		for dx := range r.dw {
			for k := range bgr {
				i := 2*dx*bgr + k
				out[dx*bgr+k] = byte((int(r0[i]) + int(r0[i+bgr]) + int(r1[i]) + int(r1[i+bgr]) + 2) >> 2)
			}
		}
	}
}
