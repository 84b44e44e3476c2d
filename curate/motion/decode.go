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
