package motion

/*
#cgo pkg-config: libavformat libavcodec libavutil
#include <stdlib.h>
#include "decode.h"
*/
import "C"

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// Vector is one motion vector as libavutil's AVMotionVector exports it (its
// unused flags left out).
type Vector struct {
	// Source is -1 when the block is predicted from the past, +1 from the future.
	Source int32
	// W and H are the block's width and height in pixels.
	W, H uint8
	// SrcX, SrcY and DstX, DstY are the block centre in the reference and in
	// this frame; they may lie outside the frame.
	SrcX, SrcY, DstX, DstY int16
	// MotionX, MotionY is the motion in 1/Scale pixels: src = dst + motion/scale.
	MotionX, MotionY int32
	// Scale is the motion's denominator (4 for H.264's quarter pixels).
	Scale uint16
}

// Decoded is what Decode samples from a clip: NeMo's DecodedData.
type Decoded struct {
	// Frames holds the vectors of each sampled frame that has any, in order.
	Frames [][]Vector
	// Width and Height are the first decoded frame's size.
	Width, Height int
	// FrameRate is the stream's frame rate the sampling step comes from.
	FrameRate float64
	// Decoded counts the frames decoded before sampling stopped.
	Decoded int
}

// Sampling constants of NeMo's decode_for_motion.
const (
	targetFPS              = 2.0  // sampled frames per second
	targetDurationRatio    = 0.5  // share of the clip's seconds at 2 fps
	minSampledFrames       = 10   // frames with vectors kept at least
	minSide                = 256  // smallest width or height scored
	defaultDurationSeconds = 30   // when the container has no duration
	defaultFrameRate       = 30.0 // when the stream has no frame rate
	avTimeBase             = 1000000
)

// streamInfo is what the sampling plan needs to know of the video stream.
type streamInfo struct {
	avgRate, baseRate    [2]int64 // avg_frame_rate, r_frame_rate (num, den)
	duration             int64    // stream duration, in timeBase units
	hasDuration          bool
	timeBase             [2]int64
	containerDuration    int64 // AV_TIME_BASE units
	hasContainerDuration bool
}

// samplePlan is decode_for_motion's sampling: the source frame rate, every
// step-th frame is looked at, and at most maxFrames frames with vectors kept.
type samplePlan struct {
	fps       float64
	step      int64
	maxFrames int
}

// planSampling reproduces decode_for_motion's arithmetic, Python's
// truncations and half-to-even rounding included.
func planSampling(s streamInfo) samplePlan {
	fps := defaultFrameRate
	if r, ok := rational(s.avgRate); ok {
		fps = r
	} else if r, ok := rational(s.baseRate); ok {
		fps = r
	}
	var seconds int64
	if s.hasDuration && s.timeBase[0] != 0 && s.timeBase[1] != 0 {
		// stream.duration * int(stream.time_base): the time base is below 1,
		// so this is 0 and the container's duration decides.
		seconds = s.duration * (s.timeBase[0] / s.timeBase[1])
	}
	if seconds <= 0 && s.hasContainerDuration {
		seconds = int64(float64(s.containerDuration) / avTimeBase)
	}
	if seconds <= 0 {
		seconds = defaultDurationSeconds
	}
	target := float64(seconds) * targetDurationRatio
	return samplePlan{
		fps:       fps,
		step:      max(1, int64(math.RoundToEven(fps/targetFPS))),
		maxFrames: max(minSampledFrames, int(math.RoundToEven(targetFPS*target))),
	}
}

// rational is num/den as PyAV's Fraction, absent when either is zero.
func rational(r [2]int64) (float64, bool) {
	if r[0] == 0 || r[1] == 0 {
		return 0, false
	}
	return float64(r[0]) / float64(r[1]), true
}

// Decode opens a clip (an MP4, or anything libavformat reads) and samples the
// motion vectors of its first video stream as NeMo's decode_for_motion does.
// Errors: ErrResolutionTooSmall, ErrNoMotionFrames (the Decoded returned
// still says how much was decoded), or one matching ErrDecodeFailed whose
// text ends with libav's message.
func Decode(path string) (Decoded, error) {
	return DecodeContext(context.Background(), path)
}

// DecodeContext is Decode, stopping with ctx's error when ctx ends.
func DecodeContext(ctx context.Context, path string) (Decoded, error) {
	dec, err := openDecoder(path, true)
	if err != nil {
		return Decoded{}, err
	}
	defer dec.close()
	plan := planSampling(dec.info)
	out := Decoded{FrameRate: plan.fps}
	for len(out.Frames) < plan.maxFrames {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("motion: %s: %w", path, err)
		}
		f, ok, err := dec.next(plan.step)
		out.Decoded = dec.decoded()
		if err != nil || !ok {
			if err != nil {
				return out, err
			}
			break
		}
		if f.index == 0 {
			out.Width, out.Height = int(f.width), int(f.height)
			if out.Width < minSide || out.Height < minSide {
				return out, fmt.Errorf("motion: %s: frame is %dx%d, under %d pixels on a side: %w",
					path, out.Width, out.Height, minSide, ErrResolutionTooSmall)
			}
		}
		if f.has_mvs != 0 {
			out.Frames = append(out.Frames, copyVectors(f))
		}
	}
	if len(out.Frames) == 0 {
		return out, fmt.Errorf("motion: %s: none of %d decoded frames sampled has motion vectors: %w",
			path, out.Decoded, ErrNoMotionFrames)
	}
	return out, nil
}

// copyVectors copies a sampled frame's vectors into Go memory.
func copyVectors(f C.motion_frame) []Vector {
	if f.nb_mvs <= 0 {
		return []Vector{}
	}
	src := unsafe.Slice(f.mvs, int(f.nb_mvs))
	out := make([]Vector, len(src))
	for i := range src {
		m := &src[i]
		out[i] = Vector{
			Source: int32(m.source),
			W:      uint8(m.w), H: uint8(m.h),
			SrcX: int16(m.src_x), SrcY: int16(m.src_y),
			DstX: int16(m.dst_x), DstY: int16(m.dst_y),
			MotionX: int32(m.motion_x), MotionY: int32(m.motion_y),
			Scale: uint16(m.motion_scale),
		}
	}
	return out
}

// decoder is an open libavformat input with its video decoder.
type decoder struct {
	path string
	c    *C.motion_decoder
	info streamInfo
}

// openDecoder opens path's first video stream, exporting motion vectors or
// not.
func openDecoder(path string, exportMVs bool) (*decoder, error) {
	if strings.IndexByte(path, 0) >= 0 {
		return nil, fmt.Errorf("motion: open %q: %w: path holds a NUL byte", path, ErrDecodeFailed)
	}
	url := C.CString("file:" + path)
	defer C.free(unsafe.Pointer(url))
	export := C.int(0)
	if exportMVs {
		export = 1
	}
	var (
		c  *C.motion_decoder
		s  C.motion_stream
		op *C.char
	)
	if ret := C.motion_open(url, export, &c, &s, &op); ret < 0 {
		return nil, avError(C.GoString(op), path, ret)
	}
	return &decoder{path: path, c: c, info: streamInfo{
		avgRate:              [2]int64{int64(s.avg_num), int64(s.avg_den)},
		baseRate:             [2]int64{int64(s.r_num), int64(s.r_den)},
		duration:             int64(s.duration),
		hasDuration:          s.has_duration != 0,
		timeBase:             [2]int64{int64(s.tb_num), int64(s.tb_den)},
		containerDuration:    int64(s.container_duration),
		hasContainerDuration: s.has_container_duration != 0,
	}}, nil
}

// next decodes up to the next frame whose index is a multiple of step; ok is
// false at the end of the stream. The frame's vectors stay valid until the
// next call.
func (d *decoder) next(step int64) (f C.motion_frame, ok bool, err error) {
	var op *C.char
	ret := C.motion_next(d.c, C.int64_t(step), &f, &op)
	if ret < 0 {
		return f, false, avError(C.GoString(op), d.path, ret)
	}
	return f, ret == 1, nil
}

// decoded is the number of frames decoded so far.
func (d *decoder) decoded() int { return int(C.motion_decoded(d.c)) }

// close frees the decoder; it may be called once.
func (d *decoder) close() {
	C.motion_close(d.c)
	d.c = nil
}

// avError is a libav failure of step op on path, matching ErrDecodeFailed and
// ending with av_strerror's message.
func avError(op, path string, code C.int) error {
	var buf [128]C.char // AV_ERROR_MAX_STRING_SIZE is 64
	C.motion_strerror(code, &buf[0], C.int(len(buf)))
	return fmt.Errorf("motion: %s %s: %w: %s", op, path, ErrDecodeFailed, C.GoString(&buf[0]))
}

// decodeAll decodes every frame of path's first video stream, exporting
// motion vectors or not, and returns how many there were: the baseline the
// benchmarks compare Decode with.
func decodeAll(path string, exportMVs bool) (int, error) {
	dec, err := openDecoder(path, exportMVs)
	if err != nil {
		return 0, err
	}
	defer dec.close()
	for {
		_, ok, err := dec.next(math.MaxInt64)
		if err != nil || !ok {
			return dec.decoded(), err
		}
	}
}

// Picture is one decoded frame's planes as libav holds them, valid only
// during the call it is passed to.
type Picture struct {
	Width, Height int
	// Y, U, V are the planes of a yuv420p frame, YStride etc. their line
	// sizes; nil unless Plain.
	Y, U, V                   []byte
	YStride, UStride, VStride int
	// Plain: yuv420p, limited range, the BT.601 matrix (unspecified,
	// BT.470BG or SMPTE 170M) or BT.709's, no rotation: a frame whose RGB
	// is the same through ffmpeg's conversion and media.YUV420ToRGB24.
	Plain bool
	BT709 bool // tagged BT.709
}

// DecodeWithFrames is DecodeContext in one decode that also serves other
// consumers of the clip's frames: each frame listed in want (ascending
// indices among decoded frames, as ffmpeg's select counts them) is passed
// to frame, until it returns false. The decode goes on past the end of the motion sampling until
// the last wanted frame, unless more, called once with the motion result
// as soon as it is known, says no. The returned Decoded and error are
// exactly DecodeContext's. A libav failure ends the frames too: those not
// passed to frame by then never are.
func DecodeWithFrames(ctx context.Context, path string, want []int, more func(Decoded, error) bool, frame func(index int, p Picture) bool) (Decoded, error) {
	dec, err := openDecoder(path, true)
	if err != nil {
		more(Decoded{}, err)
		return Decoded{}, err
	}
	defer dec.close()
	plan := planSampling(dec.info)
	out := Decoded{FrameRate: plan.fps}
	var (
		sampled  bool  // the motion sampling is over
		result   error // its error
		frames   = true
		wi       int
		finished = func(err error) {
			if sampled {
				return
			}
			sampled, result = true, err
			if err == nil && len(out.Frames) == 0 {
				result = fmt.Errorf("motion: %s: none of %d decoded frames sampled has motion vectors: %w",
					path, out.Decoded, ErrNoMotionFrames)
			}
			keep := more(out, result)
			frames = frames && keep && wi < len(want)
		}
	)
	for !sampled || frames {
		if err := ctx.Err(); err != nil {
			err = fmt.Errorf("motion: %s: %w", path, err)
			finished(err)
			return out, result
		}
		f, ok, err := dec.next(1)
		if err != nil || !ok {
			if !sampled {
				out.Decoded = dec.decoded()
			}
			finished(err)
			break
		}
		i := int64(f.index)
		if !sampled && i%plan.step == 0 {
			out.Decoded = dec.decoded()
			if i == 0 {
				out.Width, out.Height = int(f.width), int(f.height)
				if out.Width < minSide || out.Height < minSide {
					finished(fmt.Errorf("motion: %s: frame is %dx%d, under %d pixels on a side: %w",
						path, out.Width, out.Height, minSide, ErrResolutionTooSmall))
				}
			}
			if !sampled && f.has_mvs != 0 {
				out.Frames = append(out.Frames, copyVectors(f))
				if len(out.Frames) >= plan.maxFrames {
					finished(nil)
				}
			}
		}
		if frames && wi < len(want) && int64(want[wi]) == i {
			wi++
			if !frame(int(i), picture(f)) || wi == len(want) {
				frames = false
			}
		}
	}
	return out, result
}

// picture wraps a frame's planes without copying them.
func picture(f C.motion_frame) Picture {
	p := Picture{Width: int(f.width), Height: int(f.height), Plain: f.plain != 0 && f.width%2 == 0 && f.height%2 == 0, BT709: f.bt709 != 0}
	if !p.Plain {
		return p
	}
	p.YStride, p.UStride, p.VStride = int(f.linesize[0]), int(f.linesize[1]), int(f.linesize[2])
	if p.YStride < p.Width || p.UStride < p.Width/2 || p.VStride < p.Width/2 {
		p.Plain = false
		return p
	}
	p.Y = unsafe.Slice((*byte)(f.data[0]), p.YStride*p.Height)
	p.U = unsafe.Slice((*byte)(f.data[1]), p.UStride*p.Height/2)
	p.V = unsafe.Slice((*byte)(f.data[2]), p.VStride*p.Height/2)
	return p
}
