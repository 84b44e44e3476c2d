package media

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Scene splitting (--splitting-algorithm scene) computes what PySceneDetect
// 0.7's detect(path, ContentDetector()) computes with its defaults, frame
// for frame (docs/formats.md §6):
//
//   - decoding: every frame of the first video stream at full size, as
//     OpenCV's FFmpeg backend converts it to BGR24 (libswscale, bicubic,
//     BT.601 coefficients whatever the stream is tagged with);
//   - downscaling: factor = max(width, height) / 256 when that is above 1,
//     each frame resized to round(w/f) × round(h/f) with cv2.resize's
//     INTER_LINEAR, reproduced bit for bit (resizeBGR);
//   - scoring: OpenCV's 8-bit HSV, the mean absolute difference of H, S and
//     V against the previous frame, averaged with weights 1, 1, 1 (no
//     edges); a frame scoring 27 or more is above the threshold;
//   - minimum scene length: 15 frames enforced by FlashFilter in its MERGE
//     mode, in seconds of presentation time (15 / fps);
//   - frame numbers: PySceneDetect's, round(t · fps) of each frame's
//     presentation time t as OpenCV reports it (CAP_PROP_POS_MSEC), fps
//     being OpenCV's CAP_PROP_FPS made a fraction as PySceneDetect does. On
//     a constant-rate video that is the frame's index; on a variable-rate
//     one it may not be.
//
// Fades and dissolves: each frame is compared with the one before it only,
// so a gradual transition spreads its change over many frames and usually
// gives no cut; a fade through black can give one (nearly black pixels have
// a hue and saturation that jump about).

// sceneDetectWidth is PySceneDetect's DEFAULT_MIN_WIDTH: frames are
// downscaled so that their larger side is about this many pixels.
const sceneDetectWidth = 256

// SceneDims is the size PySceneDetect analyses a width x height video at:
// the factor max(width, height)/256, and round(w/f) × round(h/f) (Python's
// round, half to even; at least 1) when it is above 1, else the size itself.
func SceneDims(width, height int) (w, h int) {
	long := max(width, height)
	if long <= sceneDetectWidth {
		return width, height
	}
	f := float64(long) / sceneDetectWidth
	return max(1, int(math.RoundToEven(float64(width)/f))), max(1, int(math.RoundToEven(float64(height)/f)))
}

// ContentDetector scores frames as PySceneDetect's ContentDetector does
// with its default weights (1, 1, 1, 0), fed one packed BGR24 frame at a
// time. It keeps the previous frame's HSV and allocates nothing after the
// first frame. Which scores become cuts is the flash filter's business
// (ContentCuts).
type ContentDetector struct {
	frame     int    // number of the next frame
	prev, cur []byte // HSV of the previous frame, and room for this one
}

// Push returns the score of the next frame, packed BGR24 of the same size
// as every other frame. The first frame scores 0. A frame of another size
// than the previous one, or an empty one, is scored 0 and starts the
// comparison afresh.
func (d *ContentDetector) Push(bgr []byte) float64 {
	n := d.frame
	d.frame++
	size := len(bgr) / 3 * 3
	if n == 0 || size == 0 || size != len(d.prev) {
		if cap(d.prev) < size {
			d.prev, d.cur = make([]byte, size), make([]byte, size)
		}
		d.prev, d.cur = d.prev[:size], d.cur[:size]
		scoreHSV(d.prev, d.prev, bgr)
		return 0
	}
	score := scoreHSV(d.cur, d.prev, bgr)
	d.prev, d.cur = d.cur, d.prev
	return score
}

// ContentCuts is where PySceneDetect's ContentDetector cuts a video whose
// frames scored scores and are presented at us[n] microseconds (as
// OpenCV reports them) at fps frames per second: a frame scoring threshold
// or more goes through FlashFilter in MERGE mode with a length of
// minSceneLen/fps seconds, and each cut is numbered as PySceneDetect
// numbers frames, round(seconds · fps). A run still merging when the video
// ends gives no cut, as in PySceneDetect (its post_process adds none).
func ContentCuts(scores []float64, us []int64, fps, threshold float64, minSceneLen int) []int {
	f := flashFilter{secs: float64(minSceneLen) / fps}
	var cuts []int
	for n, score := range scores {
		if t, ok := f.filter(us[n], score >= threshold); ok {
			c := int(math.RoundToEven(float64(t) / 1e6 * fps))
			if len(cuts) == 0 || c > cuts[len(cuts)-1] {
				cuts = append(cuts, c)
			}
		}
	}
	return cuts
}

// flashFilter is PySceneDetect's FlashFilter in MERGE mode with a length in
// seconds: a frame above the threshold is a cut when the last one above it
// is at least that long ago; closer ones are merged, the merged run giving
// one cut at its last frame above the threshold once it has lasted the
// length and a frame below it follows. Times are microseconds, the
// differences compared in seconds as PySceneDetect's FrameTimecode does.
type flashFilter struct {
	secs           float64
	started        bool
	lastAbove      int64
	mergeEnabled   bool
	mergeTriggered bool
	mergeStart     int64
}

// since is PySceneDetect's (a - b) >= secs for timecodes a and b: a
// difference clamped at 0, in seconds.
func (f *flashFilter) since(a, b int64) bool {
	return float64(max(0, a-b))/1e6 >= f.secs
}

func (f *flashFilter) filter(us int64, above bool) (int64, bool) {
	if !(f.secs > 0) {
		return us, above
	}
	if !f.started {
		f.started, f.lastAbove = true, us
	}
	met := f.since(us, f.lastAbove)
	if above {
		f.lastAbove = us
	}
	if f.mergeTriggered {
		if met && !above && f.since(f.lastAbove, f.mergeStart) {
			f.mergeTriggered = false
			return f.lastAbove, true
		}
		return 0, false
	}
	if !above {
		return 0, false
	}
	if met {
		f.mergeEnabled = true
		return us, true
	}
	if f.mergeEnabled {
		f.mergeTriggered, f.mergeStart = true, us
	}
	return 0, false
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

// sceneDecodeArgs is the ffmpeg argument list that writes every frame of the
// first video stream of src, once each and in order (no frame dropped or
// repeated), raw at full size on stdout: with planes a yuv420p stream as
// its planes, else as BGR24 converted as OpenCV converts it (libswscale
// bicubic with BT.601 coefficients whatever the tag, and a range that is
// full only for the yuvj formats, as swscale assumes when not told).
// threads is ffmpeg's -threads (0: as many as it likes).
func sceneDecodeArgs(src Source, threads int, pixFmt string, planes bool) []string {
	args := []string{"-nostdin", "-v", "error", "-threads", strconv.Itoa(threads), "-filter_threads", "1"}
	args = append(append(args, src.inputArgs()...), "-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough")
	if planes {
		return append(args, "-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1")
	}
	scale := "scale=in_color_matrix=bt601:flags=bicubic"
	if !strings.HasPrefix(pixFmt, "yuvj") {
		scale += ":in_range=tv"
	}
	return append(args, "-vf", scale, "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1")
}

// SceneAnalysis is what content scene detection found in a video.
type SceneAnalysis struct {
	FPS    float64   // the frame rate PySceneDetect uses (OpenCV's, as a fraction)
	Frames int       // frames decoded
	Scores []float64 // each frame's content score; frame 0 scores 0
	Cuts   []int     // frames that start a new scene, in order (never 0)
}

// DetectCuts decodes src, a width x height video (as Probe reports it),
// once and finds its cuts as PySceneDetect's detect(path,
// ContentDetector(threshold, minSceneLen)) does: cuts are the numbers of
// the frames that start a new scene, in order; frames is the number of
// frames decoded. A file ffmpeg cannot decode gives a *MediaError for src
// with reason "scene detection failed: <ffmpeg's line>"; a cancelled ctx
// stops ffmpeg and returns ctx's error.
func (t Tools) DetectCuts(ctx context.Context, src string, width, height int, threshold float64, minSceneLen int) (cuts []int, frames int, err error) {
	a, err := t.AnalyzeScenes(ctx, File(src), width, height, "", threshold, minSceneLen, 1)
	if err != nil {
		return nil, 0, err
	}
	return a.Cuts, a.Frames, nil
}

// DetectCutsSource is DetectCuts of a Source: a file, or an object that
// ffmpeg reads over HTTP from start to end (streamed, never stored). Its
// errors name src.Name, never src.URL.
func (t Tools) DetectCutsSource(ctx context.Context, src Source, width, height int, threshold float64, minSceneLen int) (cuts []int, frames int, err error) {
	a, err := t.AnalyzeScenes(ctx, src, width, height, "", threshold, minSceneLen, 1)
	if err != nil {
		return nil, 0, err
	}
	return a.Cuts, a.Frames, nil
}

// AnalyzeScenes is DetectCutsSource with every frame's score and the frame
// rate, decoding with threads ffmpeg threads (0: ffmpeg's choice); pixFmt
// is the stream's pixel format as Probe reports it. A yuv420p video of even
// size comes from ffmpeg as its decoded planes, and the pixels the resize
// reads are converted as libswscale converts them (yuvToBGR); any other is
// converted to BGR24 by ffmpeg. While ffmpeg decodes, ffprobe reads the
// packets' timestamps (demuxing only); if it cannot, frames are taken to
// be evenly spaced at the stream's rate.
func (t Tools) AnalyzeScenes(ctx context.Context, src Source, width, height int, pixFmt string, threshold float64, minSceneLen int, threads int) (*SceneAnalysis, error) {
	if !(threshold > 0) || math.IsInf(threshold, 0) || minSceneLen < 1 {
		return nil, fmt.Errorf("scene detection %s: threshold %v must be a positive number and the minimum scene length %d at least 1 frame", src.Name, threshold, minSceneLen)
	}
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("scene detection %s: no frame size (%dx%d)", src.Name, width, height)
	}
	type timesResult struct {
		ft  frameTimes
		err error
	}
	timesCh := make(chan timesResult, 1)
	go func() {
		ft, err := t.probeFrameTimes(ctx, src)
		timesCh <- timesResult{ft, err}
	}()
	dw, dh := SceneDims(width, height)
	small := make([]byte, dw*dh*bgr)
	rs := newBGRResizer(width, height, dw, dh)
	var detector ContentDetector
	var scores []float64
	var frames int
	var err error
	if pixFmt == "yuv420p" && width%2 == 0 && height%2 == 0 {
		// ffmpeg hands over the decoded planes as they are; only the
		// pixels the resize reads are converted, as libswscale would.
		yr := newYUVRows(width, height, rs.cols)
		frames, err = t.decodeFrames(ctx, src, sceneDecodeArgs(src, threads, pixFmt, true), width*height*3/2, func(_ int, frame []byte) {
			yr.frame = frame
			rs.resize(small, yr.get)
			scores = append(scores, detector.Push(small))
		})
	} else {
		frames, err = t.decodeSceneFrames(ctx, src, width, height, threads, pixFmt, func(_ int, frame []byte) {
			rs.resize(small, func(y int) []byte { return frame[y*width*bgr:][:width*bgr] })
			scores = append(scores, detector.Push(small))
		})
	}
	times := <-timesCh
	if err != nil {
		return nil, err
	}
	ft := times.ft
	if times.err != nil || len(ft.us) != frames {
		info, perr := t.ProbeSource(ctx, src)
		if perr != nil {
			return nil, perr
		}
		if ft, err = constantTimes(frames, info.FrameRate); err != nil {
			return nil, &MediaError{Path: src.Name, Reason: "scene detection failed: " + err.Error()}
		}
	}
	fps := ft.fps()
	return &SceneAnalysis{FPS: fps, Frames: frames, Scores: scores,
		Cuts: ContentCuts(scores, ft.us, fps, threshold, minSceneLen)}, nil
}

// decodeSceneFrames runs ffmpeg with sceneDecodeArgs and calls each with the
// number and pixels of every w × h frame; the pixels are valid only during
// the call. It returns the number of frames and always waits for ffmpeg to
// end.
func (t Tools) decodeSceneFrames(ctx context.Context, src Source, w, h, threads int, pixFmt string, each func(n int, frame []byte)) (int, error) {
	return t.decodeFrames(ctx, src, sceneDecodeArgs(src, threads, pixFmt, false), w*h*3, each)
}

// decodeFrames runs ffmpeg with args, which write raw frames of frameSize
// bytes on stdout, and calls each with the number and bytes of every frame
// (valid only during the call). It returns the number of frames and always
// waits for ffmpeg to end. Its errors are scene detection's.
func (t Tools) decodeFrames(ctx context.Context, src Source, args []string, frameSize int, each func(n int, frame []byte)) (int, error) {
	stderr := &stderrCapture{}
	cmd := exec.CommandContext(ctx, t.FFmpeg, args...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("scene detection %s: %w", src.Name, err)
	}
	growPipe(stdout, frameSize)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: scene detection failed: %w", src.Name, err)
	}
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

// growPipe raises the capacity of the pipe r reads from towards one frame
// (at most the 1 MiB an unprivileged process may ask for): a full-size
// 1080p frame through the default 64 KiB is about a hundred writes and
// reads, each a switch between ffmpeg and this process. Where the call is
// refused the pipe stays as it is.
func growPipe(r io.Reader, frameSize int) {
	f, ok := r.(*os.File)
	if !ok {
		return
	}
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, min(frameSize, 1<<20)) })
	}
}
