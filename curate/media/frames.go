package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// FrameSize is the size ExtractFrames scales a width×height video to: the
// longer side at most maxSide (maxSide <= 0: no limit), never upscaled, the
// aspect ratio kept to the nearest even size, both sides even and at least 2.
func FrameSize(width, height, maxSide int) (w, h int) {
	long, short := max(width, height), min(width, height)
	newLong := long
	if maxSide > 0 && long > maxSide {
		newLong = maxSide
	}
	newLong = max(2, newLong&^1)
	newShort := max(2, 2*int((float64(short)*float64(newLong)/float64(long)+1)/2))
	newShort = min(newShort, newLong)
	if width >= height {
		return newLong, newShort
	}
	return newShort, newLong
}

// FrameExtractArgs is the ffmpeg argument list (without the binary) that
// decodes the listed frames (ascending, 0-based, counting every decoded
// frame) of the first video stream of path, scales them to w×h and writes
// them to stdout as raw RGB24, one after the other. Runs of consecutive
// frames are selected with between(), single frames with eq(); commas inside
// the select expression are escaped for the filtergraph parser.
func FrameExtractArgs(path string, frames []int, w, h int) []string {
	return []string{
		"-nostdin", "-v", "error", "-threads", "1",
		"-i", mediaURL(path), "-map", "0:v:0", "-an", "-sn",
		"-fps_mode", "passthrough",
		"-vf", "select='" + frameSelectExpr(frames) + "'," +
			"scale=" + strconv.Itoa(w) + ":" + strconv.Itoa(h),
		"-frames:v", strconv.Itoa(len(frames)),
		"-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1",
	}
}

// frameSelectExpr is the select filter's expression keeping frames, e.g.
// `eq(n\,3)+between(n\,10\,12)` for 3, 10, 11, 12.
func frameSelectExpr(frames []int) string {
	var b strings.Builder
	for i := 0; i < len(frames); {
		j := i
		for j+1 < len(frames) && frames[j+1] == frames[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte('+')
		}
		if j == i {
			fmt.Fprintf(&b, `eq(n\,%d)`, frames[i])
		} else {
			fmt.Fprintf(&b, `between(n\,%d\,%d)`, frames[i], frames[j])
		}
		i = j + 1
	}
	return b.String()
}

// ExtractFrames decodes the listed frame numbers (strictly ascending, 0-based,
// counting every decoded frame) of the video at path in one ffmpeg run
// (FrameExtractArgs), scaled to FrameSize(width, height, maxSide), and returns
// them as RGB images (alpha 255) in the same order. width and height are the
// video's as probed (ffmpeg applies rotation metadata before scaling, so a
// rotated video needs its displayed size). A video with fewer frames than asked for gives a
// *MediaError saying how many came back; an ffmpeg failure a *MediaError with
// reason "frame extraction failed: <ffmpeg's line>". Cancelling ctx kills
// ffmpeg and returns ctx's error.
func (t Tools) ExtractFrames(ctx context.Context, path string, width, height int, frames []int, maxSide int) ([]*image.RGBA, error) {
	raw, w, h, err := t.ExtractRGB(ctx, path, width, height, frames, maxSide)
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	images := make([]*image.RGBA, len(raw))
	for k, rgb := range raw {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		pix := img.Pix
		for i, j := 0, 0; i < len(rgb); i, j = i+3, j+4 {
			pix[j], pix[j+1], pix[j+2], pix[j+3] = rgb[i], rgb[i+1], rgb[i+2], 0xff
		}
		images[k] = img
	}
	return images, nil
}

// ExtractRGB is ExtractFrames without the conversion to images: the frames
// as packed RGB24 (w×h×3 bytes each), with their size.
func (t Tools) ExtractRGB(ctx context.Context, path string, width, height int, frames []int, maxSide int) (raw [][]byte, w, h int, err error) {
	if width <= 0 || height <= 0 {
		return nil, 0, 0, fmt.Errorf("extract frames %s: invalid video size %dx%d", path, width, height)
	}
	for i, f := range frames {
		if f < 0 || (i > 0 && f <= frames[i-1]) {
			return nil, 0, 0, fmt.Errorf("extract frames %s: frame numbers must be ascending and non-negative, got %v", path, frames)
		}
	}
	if len(frames) == 0 {
		return nil, 0, 0, nil
	}
	w, h = FrameSize(width, height, maxSide)
	stderr := &stderrCapture{}
	cmd := exec.CommandContext(ctx, t.FFmpeg, FrameExtractArgs(path, frames, w, h)...)
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("extract frames %s: %w", path, err)
	}
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return nil, 0, 0, fmt.Errorf("extract frames %s: %w", path, ctx.Err())
		}
		return nil, 0, 0, fmt.Errorf("extract frames %s: run ffmpeg: %w", path, err)
	}
	images, readErr := readRGBFrames(stdout, len(frames), w, h)
	if readErr == nil {
		_, readErr = io.Copy(io.Discard, stdout) // nothing more is expected; never block ffmpeg
	} else {
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, 0, 0, fmt.Errorf("extract frames %s: %w", path, ctx.Err())
	case readErr != nil:
		return nil, 0, 0, fmt.Errorf("extract frames %s: read ffmpeg output: %w", path, readErr)
	case waitErr != nil:
		return nil, 0, 0, toolFailure(path, "frame extraction failed", stderr, waitErr, path)
	case len(images) < len(frames):
		return nil, 0, 0, &MediaError{Path: path, Reason: fmt.Sprintf(
			"frame extraction failed: got %d of %d frames, the video ends before frame %d",
			len(images), len(frames), frames[len(images)])}
	}
	return images, w, h, nil
}

// readRGBFrames reads up to n raw RGB24 frames of w×h from r. A stream
// ending early (at or inside a frame) is not an error: the frames read so
// far are returned.
func readRGBFrames(r io.Reader, n, w, h int) ([][]byte, error) {
	frames := make([][]byte, 0, n)
	for range n {
		raw := make([]byte, w*h*3)
		if _, err := io.ReadFull(r, raw); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return frames, nil
			}
			return frames, err
		}
		frames = append(frames, raw)
	}
	return frames, nil
}

// EncodeJPEG encodes an image as baseline JPEG at the given quality (1-100;
// values outside are clamped), as vision-language endpoints take them.
func EncodeJPEG(img image.Image, quality int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: min(max(quality, 1), 100)}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	return buf.Bytes(), nil
}
