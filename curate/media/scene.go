package media

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strconv"
)

// Scene splitting (--splitting-algorithm scene) finds hard cuts with
// PySceneDetect's ContentDetector in its classic form, on frames decoded once
// at about 256 pixels on the longer side, then shapes the scenes into clips as
// NeMo Curator's TransNetV2 stage does (docs/formats.md §6).
//
// Fades and dissolves: each frame is compared with the one before it only,
// so a gradual transition spreads its change over many frames. Measured on
// the tests' 25 fps videos: a 1 s dissolve (xfade=fade) scores at most about
// 11 per frame and gives no cut, the two shots staying one scene (out of a
// picture with much grey, such as colour bars, its first blended frame can
// reach about 25, grey pixels taking the incoming hue at once). A 1 s fade out
// to black then in from black gives exactly one cut, at the fully black frame
// between them: nearly black pixels have a hue and saturation that jump about,
// so the black frame and the one after it score about 100.

// sceneDetectSize is the longer side, in pixels, of the frames that scene
// detection decodes (PySceneDetect also works on frames about 256 wide).
const sceneDetectSize = 256

// ContentDetector is PySceneDetect's ContentDetector (weights 1, 1, 1, no
// edges, no flash filter) fed one packed BGR24 frame at a time. A frame's
// score is the mean over H, S and V of the mean absolute difference between
// its HSV pixels and the previous frame's; frame n is a cut (the first frame
// of a new scene) when its score reaches the threshold and n is at least
// minSceneLen frames after the previous cut, or after frame 0 when there was
// none (so frames 1 to minSceneLen-1 are never cuts).
// It keeps the previous frame's HSV and allocates nothing after the first frame.
type ContentDetector struct {
	threshold   float64
	minSceneLen int
	frame       int // number of the next frame
	lastCut     int
	prev, cur   []byte // HSV of the previous frame, and room for this one
}

// NewContentDetector returns a detector with the given threshold (27 in
// PySceneDetect) and minimum scene length in frames (15).
func NewContentDetector(threshold float64, minSceneLen int) *ContentDetector {
	return &ContentDetector{threshold: threshold, minSceneLen: minSceneLen}
}

// Push scores the next frame, packed BGR24 of the same size as every other
// frame, and tells whether it starts a new scene. The first frame scores 0.
// A frame of another size than the previous one, or an empty one, is scored
// 0 and starts the comparison afresh.
func (d *ContentDetector) Push(bgr []byte) (score float64, cut bool) {
	n := d.frame
	d.frame++
	size := len(bgr) / 3 * 3
	if n == 0 || size == 0 || size != len(d.prev) {
		if cap(d.prev) < size {
			d.prev, d.cur = make([]byte, size), make([]byte, size)
		}
		d.prev, d.cur = d.prev[:size], d.cur[:size]
		scoreHSV(d.prev, d.prev, bgr)
		return 0, false
	}
	score = scoreHSV(d.cur, d.prev, bgr)
	d.prev, d.cur = d.cur, d.prev
	if score >= d.threshold && n-d.lastCut >= d.minSceneLen {
		d.lastCut = n
		return score, true
	}
	return score, false
}

// scoreHSV converts bgr into hsv and returns the content score of hsv
// against prev, in a single pass; the three have the same length, and hsv
// may be prev (the first frame is converted so, its score unused). The
// channel means are combined as PySceneDetect does: (dH + dS + dV) / 3.
//
// Each pixel is OpenCV's cvtColor(COLOR_BGR2HSV) for 8 bits (RGB2HSV_b):
// v = max, diff = v - min, s = (diff*sdiv[v] + 2^11) >> 12, and h from the
// masks vr (v == r) and vg (v == g), (h*hdiv[diff] + 2^11) >> 12, plus 180
// when negative. It is written without branches (Go 1.26 compiles the
// builtin max(b, g, r) into some): on busy pictures the channel holding the
// maximum is unpredictable, and mispredicted branches made the pass twice as
// slow.
func scoreHSV(hsv, prev, bgr []byte) float64 {
	n := len(bgr) / 3 * 3
	hsv, prev, bgr = hsv[:n], prev[:n], bgr[:n]
	var sumH, sumS, sumV int
	for i := 0; i < n; i += 3 {
		b, g, r := int32(bgr[i]), int32(bgr[i+1]), int32(bgr[i+2])
		v := maxInt32(maxInt32(b, g), r)
		diff := v - minInt32(minInt32(b, g), r)
		vr, vg := (v-r-1)>>31, (v-g-1)>>31 // -1 when v == r, v == g
		h := vr&(g-b) | ^vr&(vg&(b-r+2*diff)|^vg&(r-g+4*diff))
		h = (h*hdivTable180[uint8(diff)] + hsvRound) >> hsvShift
		h += 180 & (h >> 31)
		s := (diff*sdivTable[uint8(v)] + hsvRound) >> hsvShift
		sumH += absDiff(h, int32(prev[i]))
		sumS += absDiff(s, int32(prev[i+1]))
		sumV += absDiff(v, int32(prev[i+2]))
		hsv[i], hsv[i+1], hsv[i+2] = byte(h), byte(s), byte(v)
	}
	pixels := float64(n / 3)
	return (float64(sumH)/pixels + float64(sumS)/pixels + float64(sumV)/pixels) / 3
}

// maxInt32, minInt32 and absDiff compute without a branch: d>>31 is -1 when
// d is negative, 0 otherwise.
func maxInt32(a, b int32) int32 {
	d := a - b
	return a - d&(d>>31)
}

func minInt32(a, b int32) int32 {
	d := a - b
	return b + d&(d>>31)
}

func absDiff(a, b int32) int {
	d := a - b
	sign := d >> 31
	return int((d ^ sign) - sign)
}

// hsvShift and the tables are those of OpenCV's 8-bit RGB2HSV_b, H in [0, 180).
const (
	hsvShift = 12
	hsvRound = 1 << (hsvShift - 1)
)

var sdivTable, hdivTable180 = hsvTables()

func hsvTables() (sdiv, hdiv [256]int32) {
	for i := 1; i < 256; i++ {
		sdiv[i] = int32(math.Round(float64(255<<hsvShift) / float64(i)))
		hdiv[i] = int32(math.Round(float64(180<<hsvShift) / float64(6*i)))
	}
	return sdiv, hdiv
}

// sceneDetectDims is the size frames are decoded at for a width x height
// video: the longer side brought down to sceneDetectSize, the aspect kept,
// the shorter side even; a video that is small enough is not scaled.
func sceneDetectDims(width, height int) (w, h int) {
	long, short := max(width, height), min(width, height)
	if long <= sceneDetectSize {
		return width, height
	}
	short = max(2, int(math.Round(float64(short)*sceneDetectSize/float64(long)/2))*2)
	if width >= height {
		return sceneDetectSize, short
	}
	return short, sceneDetectSize
}

// sceneDecodeArgs is the ffmpeg argument list that writes every frame of the
// first video stream of src, once each and in order (no frame dropped or
// repeated), as raw BGR24 of w x h pixels on stdout.
func sceneDecodeArgs(src Source, w, h int) []string {
	args := []string{"-nostdin", "-v", "error", "-threads", "1", "-filter_threads", "1"}
	return append(append(args, src.inputArgs()...),
		"-map", "0:v:0", "-an", "-sn", "-dn",
		"-fps_mode", "passthrough",
		"-vf", "scale="+strconv.Itoa(w)+":"+strconv.Itoa(h)+":flags=area",
		"-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1",
	)
}

// DetectCuts decodes src, a width x height video (as Probe reports it), once
// with ffmpeg at about 256 pixels on the longer side and runs a
// ContentDetector over every frame. cuts are the numbers of the frames that
// start a new scene, in order; frames is the number of frames decoded. A file
// ffmpeg cannot decode gives a *MediaError for src with reason
// "scene detection failed: <ffmpeg's line>"; a cancelled ctx stops ffmpeg
// and returns ctx's error.
func (t Tools) DetectCuts(ctx context.Context, src string, width, height int, threshold float64, minSceneLen int) (cuts []int, frames int, err error) {
	return t.DetectCutsSource(ctx, File(src), width, height, threshold, minSceneLen)
}

// DetectCutsSource is DetectCuts of a Source: a file, or an object that
// ffmpeg reads over HTTP from start to end (streamed, never stored). Its
// errors name src.Name, never src.URL.
func (t Tools) DetectCutsSource(ctx context.Context, src Source, width, height int, threshold float64, minSceneLen int) (cuts []int, frames int, err error) {
	if !(threshold > 0) || math.IsInf(threshold, 0) || minSceneLen < 1 {
		return nil, 0, fmt.Errorf("scene detection %s: threshold %v must be a positive number and the minimum scene length %d at least 1 frame", src.Name, threshold, minSceneLen)
	}
	if width <= 0 || height <= 0 {
		return nil, 0, fmt.Errorf("scene detection %s: no frame size (%dx%d)", src.Name, width, height)
	}
	w, h := sceneDetectDims(width, height)
	detector := NewContentDetector(threshold, minSceneLen)
	frames, err = t.decodeSceneFrames(ctx, src, w, h, func(n int, frame []byte) {
		if _, cut := detector.Push(frame); cut {
			cuts = append(cuts, n)
		}
	})
	if err != nil {
		return nil, 0, err
	}
	return cuts, frames, nil
}

// decodeSceneFrames runs ffmpeg with sceneDecodeArgs and calls each with the
// number and pixels of every frame; the pixels are valid only during the call.
// It returns the number of frames and always waits for ffmpeg to end.
func (t Tools) decodeSceneFrames(ctx context.Context, src Source, w, h int, each func(n int, frame []byte)) (int, error) {
	stderr := &stderrCapture{}
	cmd := exec.CommandContext(ctx, t.FFmpeg, sceneDecodeArgs(src, w, h)...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("scene detection %s: %w", src.Name, err)
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: scene detection failed: %w", src.Name, err)
	}
	frameSize := w * h * 3
	frame := make([]byte, frameSize)
	r := bufio.NewReaderSize(stdout, frameSize)
	n := 0
	var readErr error
	for ctx.Err() == nil {
		if _, readErr = io.ReadFull(r, frame); readErr != nil {
			break
		}
		each(n, frame)
		n++
	}
	if readErr != io.EOF {
		// Cancelled, or ffmpeg's output broke off: it must not linger.
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return 0, fmt.Errorf("scene detection %s: %w", src.Name, ctx.Err())
	case waitErr != nil:
		return 0, toolFailure(src.Name, "scene detection failed", stderr, waitErr, src.hidden()...)
	case errors.Is(readErr, io.ErrUnexpectedEOF):
		return 0, &MediaError{Path: src.Name, Reason: "scene detection failed: ffmpeg's output ended inside a frame"}
	case readErr != io.EOF:
		return 0, fmt.Errorf("scene detection %s: read frames: %w", src.Name, readErr)
	case n == 0:
		return 0, &MediaError{Path: src.Name, Reason: "scene detection failed: no video frame decoded"}
	}
	return n, nil
}
