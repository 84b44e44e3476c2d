package media

import "math"

// resizeBGR is OpenCV's cv::resize(src, dst, Size(dw, dh), 0, 0,
// INTER_LINEAR) of a packed 8-bit 3-channel w × h image, bit for bit as
// OpenCV 4 computes it on x86-64 (PySceneDetect downscales every frame so).
//
// OpenCV works in fixed point for 8-bit images. Each destination column dx
// maps to the source coordinate fx = float32((dx+0.5)·w/dw - 0.5), split
// into sx = floor(fx) and the weights round((1-fx')·2048) and
// round(fx'·2048) (fx' = fx - sx; a column left of the image takes column 0
// alone, one at or right of the last column the last column alone). The
// horizontal pass keeps the sums, up to 255·2048, as integers; rows map
// alike, both source rows clamped into the image. The vertical pass is
// OpenCV's SIMD one (VResizeLinearVec_32s8u) for as many whole vectors of
// 16 bytes as the row holds: each sum is shifted right by 4, multiplied by
// its weight keeping the high 16 bits, the two added, then (x+2)>>2 with
// saturation; the bytes left at the end of a row take the scalar formula
// (s0·b0 + s1·b1 + 2^21) >> 22. The two roundings differ, which is why both
// are kept.
//
// An exact halving in both directions is OpenCV's INTER_AREA instead
// (each output the rounded mean of a 2×2 block), and a size that does not
// change is a copy, as cv::resize does.
func resizeBGR(dst, src []byte, w, h, dw, dh int) {
	const cn = 3
	scaleX, scaleY := float64(w)/float64(dw), float64(h)/float64(dh)
	switch {
	case dw == w && dh == h:
		copy(dst, src[:w*h*cn])
		return
	case scaleX == 2 && scaleY == 2:
		halveBGR(dst, src, w, dw, dh)
		return
	}
	xofs := make([]int32, dw*cn)
	alpha := make([]int32, dw*cn*2)
	xmax := dw
	for dx := range dw {
		fx := float32((float64(dx)+0.5)*scaleX - 0.5)
		sx := int(math.Floor(float64(fx)))
		fx -= float32(sx)
		if sx < 0 {
			fx, sx = 0, 0
		}
		if sx+1 >= w {
			xmax = min(xmax, dx)
			if sx >= w-1 {
				fx, sx = 0, w-1
			}
		}
		a0, a1 := coef(1-fx), coef(fx)
		for k := range cn {
			xofs[dx*cn+k] = int32(sx*cn + k)
			alpha[(dx*cn+k)*2], alpha[(dx*cn+k)*2+1] = a0, a1
		}
	}
	width := dw * cn
	rows := [2][]int32{make([]int32, width), make([]int32, width)}
	rowOf := [2]int{-1, -1}
	hresize := func(out []int32, sy int) {
		s := src[sy*w*cn:][:w*cn]
		for x := range width {
			i := xofs[x]
			if x/cn >= xmax {
				out[x] = int32(s[i]) * 2048
				continue
			}
			out[x] = int32(s[i])*alpha[2*x] + int32(s[i+cn])*alpha[2*x+1]
		}
	}
	// row returns the horizontal pass of source row y in buffer k, reusing
	// what the previous output row computed (the rows move down by at most
	// one buffer for a downscale).
	row := func(k, y int) []int32 {
		switch {
		case rowOf[k] == y:
		case k == 0 && rowOf[1] == y:
			rows[0], rows[1] = rows[1], rows[0]
			rowOf[0], rowOf[1] = rowOf[1], rowOf[0]
		default:
			hresize(rows[k], y)
			rowOf[k] = y
		}
		return rows[k]
	}
	// OpenCV's vector loop covers the whole row, its last vector
	// overlapping the one before; a row of fewer than vecMin bytes is scalar.
	vecEnd := width
	if width < vecMin {
		vecEnd = 0
	}
	for dy := range dh {
		fy := float32((float64(dy)+0.5)*scaleY - 0.5)
		sy := int(math.Floor(float64(fy)))
		fy -= float32(sy)
		b0, b1 := coef(1-fy), coef(fy)
		y0, y1 := min(max(sy, 0), h-1), min(max(sy+1, 0), h-1)
		s0 := row(0, y0)
		s1 := s0
		if y1 != y0 {
			s1 = row(1, y1)
		}
		out := dst[dy*width:][:width]
		for x := range vecEnd {
			v := (s0[x]>>4*b0)>>16 + (s1[x]>>4*b1)>>16
			out[x] = sat8((v + 2) >> 2)
		}
		for x := vecEnd; x < width; x++ {
			out[x] = sat8((s0[x]*b0 + s1[x]*b1 + 1<<21) >> 22)
		}
	}
}

// coef is OpenCV's saturate_cast<short>(c·INTER_RESIZE_COEF_SCALE), the
// product in float32, rounded half to even.
func coef(c float32) int32 { return int32(math.RoundToEven(float64(c * 2048))) }

func sat8(v int32) byte { return byte(min(max(v, 0), 255)) }

// halveBGR is OpenCV's fast INTER_AREA for an exact halving: each output
// byte (a+b+c+d+2)>>2 of its 2×2 block.
func halveBGR(dst, src []byte, w, dw, dh int) {
	const cn = 3
	for dy := range dh {
		r0, r1 := src[2*dy*w*cn:][:w*cn], src[(2*dy+1)*w*cn:][:w*cn]
		out := dst[dy*dw*cn:][:dw*cn]
		for dx := range dw {
			for k := range cn {
				i := 2*dx*cn + k
				out[dx*cn+k] = byte((int(r0[i]) + int(r0[i+cn]) + int(r1[i]) + int(r1[i+cn]) + 2) >> 2)
			}
		}
	}
}

var vecMin = 4
