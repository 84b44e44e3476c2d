package motion

import "math"

// resizeLinear resizes a w×h single-channel float32 image (row-major) by the
// factors fx, fy as OpenCV's cv::resize(src, dst, Size(), fx, fy,
// INTER_LINEAR) does for CV_32FC1, and returns the dw×dh result.
//
// As OpenCV: dw = cvRound(w·fx) (half to even); each destination column maps
// to the source coordinate (dx+0.5)/fx - 0.5 rounded to float32, split into
// sx = floor and the weight fx - sx; a column left of the image takes source
// column 0 alone, one at or right of the last column takes the last column
// alone. Rows map alike, except that OpenCV clamps the two source rows into
// the image and keeps both weights. Each output is
// (1-wy)·((1-wx)·S[r0][sx] + wx·S[r0][sx+1]) + wy·(same on row r1), every
// product and sum rounded to float32.
//
// An image whose size does not change is copied, as cv::resize does.
// Not emulated: OpenCV turns an exact 2× downscale (fx = fy = 1/2) into
// INTER_AREA, and Intel IPP builds may take their own path.
func resizeLinear(src []float32, w, h int, fx, fy float64) (dst []float32, dw, dh int) {
	dw, dh = int(math.RoundToEven(float64(w)*fx)), int(math.RoundToEven(float64(h)*fy))
	if w <= 0 || h <= 0 || dw <= 0 || dh <= 0 || len(src) < w*h {
		return nil, 0, 0
	}
	if dw == w && dh == h {
		// cv::resize copies an image whose size does not change.
		return append([]float32(nil), src[:w*h]...), w, h
	}
	cols := make([]resizeTap, dw)
	for dx := range cols {
		sx, a := resizeCoord(dx, 1/fx)
		if sx < 0 {
			sx, a = 0, 0
		}
		if sx >= w-1 {
			cols[dx] = resizeTap{src: w - 1, w0: 1, single: true}
			continue
		}
		cols[dx] = resizeTap{src: sx, w0: 1 - a, w1: a}
	}
	dst = make([]float32, dw*dh)
	for dy := range dh {
		sy, b := resizeCoord(dy, 1/fy)
		r0 := src[clampInt(sy, 0, h-1)*w:][:w]
		r1 := src[clampInt(sy+1, 0, h-1)*w:][:w]
		b0, b1 := 1-b, b
		out := dst[dy*dw:][:dw]
		for dx, c := range cols {
			t0, t1 := c.apply(r0), c.apply(r1)
			out[dx] = float32(t0*b0) + float32(t1*b1)
		}
	}
	return dst, dw, dh
}

// resizeTap is one destination column's source column and weights.
type resizeTap struct {
	src    int
	w0, w1 float32
	single bool // only src contributes (right border)
}

// apply interpolates row at the tap, in float32.
func (t resizeTap) apply(row []float32) float32 {
	if t.single {
		return float32(row[t.src] * t.w0)
	}
	return float32(row[t.src]*t.w0) + float32(row[t.src+1]*t.w1)
}

// resizeCoord maps destination index d to OpenCV's source index and weight:
// f = float32((d+0.5)·scale - 0.5), s = floor(f), weight f - s.
func resizeCoord(d int, scale float64) (s int, weight float32) {
	f := float32((float64(d)+0.5)*scale - 0.5)
	s = int(math.Floor(float64(f)))
	return s, f - float32(s)
}

func clampInt(v, lo, hi int) int { return min(max(v, lo), hi) }
