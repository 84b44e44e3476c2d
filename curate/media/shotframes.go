package media

import (
	"context"
	"strconv"
)

// ShotFrameWidth and ShotFrameHeight are the size of the frames TransNetV2
// reads.
const ShotFrameWidth, ShotFrameHeight = 48, 27

// shotFrameArgs is NeMo Curator's CPU frame extraction for TransNetV2
// (get_frames_from_ffmpeg with use_gpu False): the input scaled by -s to
// 48x27, rgb24, as raw video on stdout; ffmpeg chooses the stream and the
// output's frame timing as it does for NeMo. -an -sn -dn change nothing
// (rawvideo takes no other stream) but say so.
func shotFrameArgs(src Source, threads int) []string {
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-threads", strconv.Itoa(threads)}
	return append(append(args, src.inputArgs()...),
		"-an", "-sn", "-dn",
		"-f", "rawvideo", "-pix_fmt", "rgb24",
		"-s", strconv.Itoa(ShotFrameWidth)+"x"+strconv.Itoa(ShotFrameHeight), "pipe:1")
}

// DecodeShotFrames decodes src once into the 48x27 RGB frames TransNetV2
// reads, exactly as NeMo Curator extracts them, calling each with every
// frame (valid only during the call), and returns the number of frames.
// threads is ffmpeg's -threads (NeMo uses 4; the frames are the same). Its
// errors are DetectCutsSource's.
func (t Tools) DecodeShotFrames(ctx context.Context, src Source, threads int, each func(frame []byte)) (int, error) {
	return t.decodeFrames(ctx, src, shotFrameArgs(src, threads), ShotFrameWidth*ShotFrameHeight*3, func(_ int, f []byte) { each(f) })
}
