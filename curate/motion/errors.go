package motion

import "errors"

// Sentinel errors of Decode; their texts are the reasons NeMo records.
var (
	// ErrResolutionTooSmall: the first frame is smaller than 256 pixels on a side.
	ErrResolutionTooSmall = errors.New("resolution_too_small")
	// ErrNoMotionFrames: no sampled frame carries motion vectors.
	ErrNoMotionFrames = errors.New("no_motion_frames")
	// ErrDecodeFailed: the clip could not be opened, demuxed or decoded.
	ErrDecodeFailed = errors.New("decode_failed")
)

// Reason names err as NeMo's motion filter records it: "resolution_too_small",
// "no_motion_frames", or "decode_failed" for any other error; "" for nil.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrResolutionTooSmall):
		return ErrResolutionTooSmall.Error()
	case errors.Is(err, ErrNoMotionFrames):
		return ErrNoMotionFrames.Error()
	default:
		return ErrDecodeFailed.Error()
	}
}
