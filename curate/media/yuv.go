package media

// yuvToBGR converts pixels of a yuv420p frame to BGR24 exactly as
// libswscale's unscaled yuv420p → bgr24 converter does on x86 with BT.601
// coefficients (what OpenCV's FFmpeg backend, and ffmpeg with
// scale=in_color_matrix=bt601, give): chroma taken from the 2×2 block
// (nearest), in 16-bit fixed point as its SIMD code computes.
type yuvToBGR struct {
	yCoeff, yOffset                    int32
	vrCoeff, ubCoeff, vgCoeff, ugCoeff int32
}

// roundToInt16 is libswscale's (f + 2^15) >> 16.
func roundToInt16(f int64) int32 { return int32((f + 1<<15) >> 16) }

func newYUVToBGR() yuvToBGR { return newYUVConverter(false) }

// newYUVConverter is the converter of BT.601, or of BT.709 when bt709.
func newYUVConverter(bt709 bool) yuvToBGR {
	// ff_yuv2rgb_coeffs: crv, cbu, cgu, cgv (×2^16).
	crv, cbu, cgu, cgv := int64(104597), int64(132201), int64(-25675), int64(-53279) // ITU-R BT.601
	if bt709 {
		crv, cbu, cgu, cgv = 117489, 138438, -13975, -34925 // ITU-R BT.709
	}
	cy := int64(1<<16) * 255 / 219 // limited range
	oy := int64(16 << 16)
	return yuvToBGR{
		yCoeff: roundToInt16(cy << 13), yOffset: roundToInt16(oy << 3),
		vrCoeff: roundToInt16(crv << 13), ubCoeff: roundToInt16(cbu << 13),
		vgCoeff: roundToInt16(cgv * (1 << 13)), ugCoeff: roundToInt16(cgu * (1 << 13)),
	}
}

// pixel returns the BGR of luma y and chroma u, v.
func (c *yuvToBGR) pixel(y, u, v byte) (b, g, r byte) {
	ys := int32(y)<<3 - c.yOffset
	yy := (ys * c.yCoeff) >> 16
	us, vs := int32(u)<<3-1024, int32(v)<<3-1024
	ub, ug := (us*c.ubCoeff)>>16, (us*c.ugCoeff)>>16
	vg, vr := (vs*c.vgCoeff)>>16, (vs*c.vrCoeff)>>16
	return sat8(yy + ub), sat8(yy + ug + vg), sat8(yy + vr)
}

// yuvRows serves the rows of a yuv420p frame as BGR24 to a bgrResizer,
// converting only the columns it reads.
type yuvRows struct {
	conv  yuvToBGR
	w, h  int
	cols  []int32
	frame []byte // the frame being resized: Y, then U, then V planes
	row   []byte // w × 3, the columns in cols filled
}

func newYUVRows(w, h int, cols []int32) *yuvRows {
	return &yuvRows{conv: newYUVToBGR(), w: w, h: h, cols: cols, row: make([]byte, w*bgr)}
}

// get converts row y of the current frame.
func (r *yuvRows) get(y int) []byte {
	w, cw := r.w, r.w/2
	yp := r.frame[y*w:][:w]
	up := r.frame[w*r.h+(y/2)*cw:][:cw]
	vp := r.frame[w*r.h+cw*(r.h/2)+(y/2)*cw:][:cw]
	for _, x := range r.cols {
		b, g, rr := r.conv.pixel(yp[x], up[x/2], vp[x/2])
		o := r.row[x*bgr:][:3]
		o[0], o[1], o[2] = b, g, rr
	}
	return r.row
}

// YUV420ToRGB24 converts a yuv420p frame of w×h (both even; limited range;
// the BT.601 matrix, or BT.709's when bt709) given as its planes and their
// line sizes to packed RGB24, as ffmpeg's conversion to rgb24 at the same
// size computes it (libswscale's unscaled yuv420p → rgb24, with the matrix
// the frame is tagged with: the same arithmetic as its bgr24 converter,
// channels in the other order).
func YUV420ToRGB24(w, h int, y, u, v []byte, yStride, uStride, vStride int, bt709 bool) []byte {
	conv := newYUVConverter(bt709)
	out := make([]byte, w*h*3)
	for row := range h {
		yp := y[row*yStride:][:w]
		up := u[(row/2)*uStride:][:w/2]
		vp := v[(row/2)*vStride:][:w/2]
		o := out[row*w*3:][:w*3]
		for x := 0; x < w; x++ {
			b, g, r := conv.pixel(yp[x], up[x/2], vp[x/2])
			o[3*x], o[3*x+1], o[3*x+2] = r, g, b
		}
	}
	return out
}
