package vit

import (
	"fmt"
	"math"
	"sync"
)

// CLIPMean is the per-channel (R, G, B) mean that CLIP's preprocessing
// subtracts from pixels scaled to [0, 1] (OpenAI's values, as in the
// image_mean of HuggingFace's preprocessor_config.json).
var CLIPMean = [3]float32{0.48145466, 0.4578275, 0.40821073}

// CLIPStd is the per-channel (R, G, B) standard deviation that CLIP's
// preprocessing divides by after subtracting CLIPMean (image_std).
var CLIPStd = [3]float32{0.26862954, 0.26130258, 0.27577711}

// The resampler reproduces Pillow's libImaging/Resample.c for 8-bit images:
// coefficients computed in float64, rounded to fixed point with
// precisionBits fraction bits, and integer accumulation in int32. Every
// float64 expression is written in the C code's order, with explicit
// conversions where a product feeds an addition so that the compiler never
// fuses them (Go may fuse a*b+c; the explicit conversion forbids it).
const (
	precisionBits  = 32 - 8 - 2 // Pillow's PRECISION_BITS
	bicubicSupport = 2.0        // the support of Pillow's bicubic filter
)

// bicubic is Pillow's bicubic_filter: Keys' cubic convolution with a = -0.5.
func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		t := float64((a+2)*x) - (a + 3)
		t = float64(t * x)
		return float64(t*x) + 1
	}
	if x < 2 {
		t := float64((x-5)*x) + 8
		t = float64(t*x) - 4
		return t * a
	}
	return 0
}

// coeffs is the fixed-point filter of one axis of a resize: output index i
// reads n[i] input samples from min[i] on, weighted by k[i*ksize:][:n[i]].
type coeffs struct {
	ksize int
	min   []int
	n     []int
	k     []int32
}

// newCoeffs is Pillow's precompute_coeffs (box [0, inSize)) followed by
// normalize_coeffs_8bpc.
func newCoeffs(inSize, outSize int) *coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := bicubicSupport * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := &coeffs{ksize: ksize, min: make([]int, outSize), n: make([]int, outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, ksize)
	ss := 1 / filterscale
	for xx := range outSize {
		center := float64((float64(xx) + 0.5) * scale)
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		ww := 0.0
		for x := range xmax {
			w[x] = bicubic((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		k := c.k[xx*ksize:][:xmax]
		for x := range xmax {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + float64(v*(1<<precisionBits)))
			} else {
				k[x] = int32(0.5 + float64(v*(1<<precisionBits)))
			}
		}
		c.min[xx], c.n[xx] = xmin, xmax
	}
	return c
}

// coeffCache keeps the filters of the few size pairs a video run meets; it
// starts afresh when it holds coeffCacheSize pairs.
var coeffCache struct {
	sync.Mutex
	m map[[2]int]*coeffs
}

const coeffCacheSize = 64

// cachedCoeffs returns the (shared, read-only) filter for inSize → outSize.
func cachedCoeffs(inSize, outSize int) *coeffs {
	key := [2]int{inSize, outSize}
	coeffCache.Lock()
	c := coeffCache.m[key]
	coeffCache.Unlock()
	if c != nil {
		return c
	}
	c = newCoeffs(inSize, outSize)
	coeffCache.Lock()
	if coeffCache.m == nil || len(coeffCache.m) >= coeffCacheSize {
		coeffCache.m = make(map[[2]int]*coeffs)
	}
	coeffCache.m[key] = c
	coeffCache.Unlock()
	return c
}

// clip8 is Pillow's clip8: the integer part of a fixed-point sum, clamped
// to a byte.
func clip8(v int32) byte {
	return byte(min(max(v>>precisionBits, 0), 255))
}

// view is a packed RGB24 image region: row y starts at pix[y*stride].
type view struct {
	pix    []byte
	stride int
}

// horizontal is ImagingResampleHorizontal_8bpc for output columns [x0, x1)
// of rows rows of src; the result is packed, (x1-x0)×rows.
func horizontal(src view, rows int, c *coeffs, x0, x1 int) view {
	out := view{pix: make([]byte, (x1-x0)*3*rows), stride: (x1 - x0) * 3}
	for y := range rows {
		in := src.pix[y*src.stride:]
		o := out.pix[y*out.stride:][:out.stride]
		for xx := x0; xx < x1; xx++ {
			k := c.k[xx*c.ksize:][:c.n[xx]]
			p := in[c.min[xx]*3:][:len(k)*3]
			ss0, ss1, ss2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
			for x, kv := range k {
				q := p[x*3 : x*3+3 : x*3+3]
				ss0 += int32(q[0]) * kv
				ss1 += int32(q[1]) * kv
				ss2 += int32(q[2]) * kv
			}
			i := (xx - x0) * 3
			o[i], o[i+1], o[i+2] = clip8(ss0), clip8(ss1), clip8(ss2)
		}
	}
	return out
}

// vertical is ImagingResampleVertical_8bpc for output rows [y0, y1); src
// holds the input rows from row base on, width bytes each. The sums run
// over taps in the outer loop, which leaves each int32 sum unchanged.
func vertical(src view, base, width int, c *coeffs, y0, y1 int) view {
	out := view{pix: make([]byte, width*(y1-y0)), stride: width}
	acc := make([]int32, width)
	for yy := y0; yy < y1; yy++ {
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		k := c.k[yy*c.ksize:][:c.n[yy]]
		for y, kv := range k {
			row := src.pix[(c.min[yy]-base+y)*src.stride:][:width]
			for i, v := range row {
				acc[i] += int32(v) * kv
			}
		}
		o := out.pix[(yy-y0)*width:][:width]
		for i, s := range acc {
			o[i] = clip8(s)
		}
	}
	return out
}

// resample returns the window [x0, x1)×[y0, y1) of the w×h image rgb
// resized to ow×oh, packed. Like ImagingResampleInner it runs the
// horizontal pass first, each pass only when its size changes, and the
// horizontal pass only over the input rows the vertical pass reads.
func resample(rgb []byte, w, h, ow, oh, x0, x1, y0, y1 int) view {
	src := view{pix: rgb, stride: w * 3}
	if x0 >= x1 || y0 >= y1 {
		return view{stride: (x1 - x0) * 3}
	}
	r0, r1 := y0, y1 // the input rows needed
	var cv *coeffs
	if oh != h {
		cv = cachedCoeffs(h, oh)
		r0, r1 = h, 0
		for y := y0; y < y1; y++ {
			r0, r1 = min(r0, cv.min[y]), max(r1, cv.min[y]+cv.n[y])
		}
	}
	src.pix = src.pix[r0*src.stride:]
	width := (x1 - x0) * 3
	if ow != w {
		src = horizontal(src, r1-r0, cachedCoeffs(w, ow), x0, x1)
	} else {
		src.pix = src.pix[x0*3:]
	}
	if cv != nil {
		return vertical(src, r0, width, cv, y0, y1)
	}
	out := view{pix: make([]byte, width*(y1-y0)), stride: width}
	for y := range y1 - y0 {
		copy(out.pix[y*width:][:width], src.pix[y*src.stride:])
	}
	return out
}

// checkImage panics when rgb cannot hold a w×h RGB24 image or a size is
// not positive, as PIL refuses such a resize.
func checkImage(what string, rgb []byte, w, h, ow, oh int) {
	if w <= 0 || h <= 0 || ow <= 0 || oh <= 0 {
		panic(fmt.Sprintf("vit: %s: sizes must be positive, got %d×%d to %d×%d", what, w, h, ow, oh))
	}
	if len(rgb) < w*h*3 {
		panic(fmt.Sprintf("vit: %s: %d bytes cannot hold a %d×%d RGB24 image", what, len(rgb), w, h))
	}
}

// ResizeBicubic resizes an RGB image (packed RGB24, w×h) to ow×oh exactly
// as PIL's Image.resize(BICUBIC) does for 8-bit RGB images (Pillow 9,
// reducing_gap None): the same filter, fixed-point coefficients, rounding
// and clamping, so the output matches PIL byte for byte. It panics when a
// size is not positive or rgb is shorter than w*h*3 bytes.
func ResizeBicubic(rgb []byte, w, h, ow, oh int) []byte {
	checkImage("resize", rgb, w, h, ow, oh)
	return resample(rgb, w, h, ow, oh, 0, ow, 0, oh).pix
}

// ShortestEdgeSize is HF's output size for a shortest edge of size (long
// side truncated): get_resize_output_image_size with default_to_square
// False, so 640×480 becomes 298×224 for size 224.
func ShortestEdgeSize(w, h, size int) (ow, oh int) {
	short, long := w, h
	if w > h {
		short, long = h, w
	}
	newLong := int(float64(size*long) / float64(short))
	if w <= h {
		return size, newLong
	}
	return newLong, size
}

// cropOrigin is where HF's center_crop starts a crop of crop pixels along
// an axis of n pixels: (n - crop) // 2, negative when the crop pads.
func cropOrigin(n, crop int) int {
	d := n - crop
	if d < 0 {
		return -((1 - d) / 2) // floor division by 2
	}
	return d / 2
}

// Preprocess turns a packed RGB24 frame (w×h, e.g. decoded by ffmpeg
// -pix_fmt rgb24) into CLIP's input as HuggingFace's CLIPImageProcessor
// makes it: shortest edge to size (bicubic, as PIL), centre crop
// size×size, /255, normalised with CLIPMean and CLIPStd, channel-major
// float32 (3×size×size). size is Config.ImageSize (224). It panics when a
// size is not positive or rgb is shorter than w*h*3 bytes.
func Preprocess(rgb []byte, w, h, size int) []float32 {
	ow, oh := ShortestEdgeSize(w, h, size)
	return resizeCrop(rgb, w, h, ow, oh, size)
}

// resizeCrop resizes to ow×oh, centre crops crop×crop (zero padded where
// the image is smaller, as HF's center_crop), rescales and normalises.
// Only the resized pixels the crop keeps are computed.
func resizeCrop(rgb []byte, w, h, ow, oh, crop int) []float32 {
	checkImage("preprocess", rgb, w, h, ow, oh)
	if crop <= 0 {
		panic(fmt.Sprintf("vit: preprocess: crop size must be positive, got %d", crop))
	}
	left, top := cropOrigin(ow, crop), cropOrigin(oh, crop)
	x0, x1 := max(left, 0), min(left+crop, ow)
	y0, y1 := max(top, 0), min(top+crop, oh)
	win := resample(rgb, w, h, ow, oh, x0, x1, y0, y1)
	lut := normalisation()
	plane := crop * crop
	out := make([]float32, 3*plane)
	for c := range 3 {
		o := out[c*plane:][:plane]
		for i := range o {
			o[i] = lut[c][0] // HF pads with zero pixels before normalising
		}
		for y := y0; y < y1; y++ {
			row := win.pix[(y-y0)*win.stride:][:win.stride]
			orow := o[(y-top)*crop+x0-left:][:x1-x0]
			for x := range orow {
				orow[x] = lut[c][row[x*3+c]]
			}
		}
	}
	return out
}

// normalisation maps each channel's byte values to HF's rescale (float64
// v × 1/255, stored as float32) then normalize ((x - mean) / std in
// float32).
func normalisation() *[3][256]float32 {
	var lut [3][256]float32
	for c := range 3 {
		for v := range 256 {
			x := float32(float64(v) * (1.0 / 255))
			lut[c][v] = (x - CLIPMean[c]) / CLIPStd[c]
		}
	}
	return &lut
}
