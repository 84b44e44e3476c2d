package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/clipfs/clipfs/curate/fault"
)

// MediaError is a problem with one media file, told in one human line:
// Error() is "PATH: REASON". Err is the underlying cause (an *os.PathError,
// an *exec.ExitError) or nil when the reason says it all. Errors that are not
// about the file (ffmpeg missing, context cancelled) are never MediaErrors.
type MediaError struct {
	Path   string
	Reason string
	Err    error
}

func (e *MediaError) Error() string { return e.Path + ": " + e.Reason }

func (e *MediaError) Unwrap() error { return e.Err }

// stderrLimit bounds how much of a tool's stderr is kept, at each end.
const stderrLimit = 4 << 10

// ffmpeg messages that say the container refused the copied audio codec
// (pcm_* or adpcm_* from .avi/.mov, flac from .mkv, ...).
var audioCopyRefusals = []string{
	"codec not currently supported in container",
	"Could not find tag for codec",
	"support is experimental",
}

// TranscodeArgs is the ffmpeg argument list (without the binary) that cuts
// [start, end) seconds of src into the MP4 file dst, as docs/formats.md §5: the first
// video stream re-encoded with libx264, the first audio stream (if any) copied,
// one thread. Paths are passed as file: URLs so that names with spaces, colons,
// '?', '#', '%' or a leading '-' reach ffmpeg unchanged; "-f mp4" lets dst have
// any extension (a temporary name, say). Quote "0:a:0?" when running it in a shell.
func TranscodeArgs(src string, start, end float64, dst string) []string {
	return transcodeArgsWithAudio(File(src), start, end, dst, "copy")
}

func transcodeArgsWithAudio(src Source, start, end float64, dst, audioCodec string) []string {
	args := []string{"-nostdin", "-v", "error", "-y", "-threads", "1",
		"-ss", mediaTime(start), "-to", mediaTime(end)}
	return append(append(args, src.inputArgs()...),
		"-map", "0:v:0", "-c:v", "libx264", "-threads", "1",
		"-map", "0:a:0?", "-c:a", audioCodec,
		"-f", "mp4", mediaURL(dst),
	)
}

// Transcode cuts [start, end) seconds of src into dst with TranscodeArgs.
// When MP4 refuses the copied audio codec (PCM from .avi/.mov, FLAC, ADPCM...),
// it runs once more with "-c:a aac". On failure dst is removed and the error
// is a *MediaError for src with reason "transcode failed: <ffmpeg's line>".
// ffmpeg snaps a cut point that falls between two frames to the nearer frame,
// so a clip may hold one frame more or less than the frames whose time lies in
// [start, end). A span past the end of src gives an MP4 without a video stream
// (ffmpeg exits 0); Probe on the clip reports it.
func (t Tools) Transcode(ctx context.Context, src string, start, end float64, dst string) error {
	return t.TranscodeSource(ctx, File(src), start, end, dst)
}

// TranscodeSource is Transcode of a Source: a file, or an object read over
// HTTP with range requests (only the bytes the span needs, and the index).
// Its errors name src.Name, never src.URL; a server that cannot be reached
// or refuses the URL is an *fault.EnvError.
func (t Tools) TranscodeSource(ctx context.Context, src Source, start, end float64, dst string) error {
	stderr, err := t.runFFmpeg(ctx, transcodeArgsWithAudio(src, start, end, dst, "copy"))
	if err != nil && ctx.Err() == nil && refusesAudioCopy(stderr) {
		stderr, err = t.runFFmpeg(ctx, transcodeArgsWithAudio(src, start, end, dst, "aac"))
	}
	if err == nil {
		return nil
	}
	_ = os.Remove(dst)
	if ctx.Err() != nil {
		return fmt.Errorf("transcode %s: %w", src.Name, ctx.Err())
	}
	return toolFailure(src.Name, "transcode failed", stderr, err, append(src.hidden(), dst)...)
}

// PreviewArgs is the ffmpeg argument list (without the binary) that writes
// frames first to last (inclusive) of clip as one animated WebP (docs/formats.md §5: 1 fps,
// 240 px high, lossy quality 50, looping). The cut points lie half a frame
// outside the window, so a frame is in or out by its nominal time even when
// the container rounded its timestamp (1 ms in Matroska). With fps <= 0 the
// window cannot be placed and the whole clip is used.
func PreviewArgs(clip string, fps float64, first, last int, dst string) []string {
	return previewArgsWithFilter(clip, fps, first, last, dst, "fps=1")
}

func previewArgsWithFilter(clip string, fps float64, first, last int, dst, fpsFilter string) []string {
	args := []string{"-nostdin", "-v", "error", "-y", "-threads", "1"}
	if fps > 0 {
		start := math.Max(0, (float64(first)-0.5)/fps)
		end := (float64(last) + 0.5) / fps
		args = append(args, "-ss", mediaTime(start), "-to", mediaTime(end))
	}
	return append(args,
		"-i", mediaURL(clip), "-an",
		"-vf", fpsFilter+",scale=-1:240",
		"-c:v", "libwebp", "-lossless", "0", "-compression_level", "6",
		"-q:v", "50", "-loop", "0",
		"-f", "webp", mediaURL(dst),
	)
}

// Preview writes the WebP preview of frames first to last of clip to dst with PreviewArgs.
// A window shorter than about half a second gives fps=1 no frame to keep, and
// ffmpeg then writes an 8-byte non-WebP file and exits 0: Preview checks the
// output and, when it is not a WebP, runs once more with
// "fps=1:eof_action=pass", which keeps the window's last frame.
// On failure dst is removed and the error is a *MediaError for clip with
// reason "preview failed: <ffmpeg's line>".
func (t Tools) Preview(ctx context.Context, clip string, fps float64, first, last int, dst string) error {
	stderr, err := t.runFFmpeg(ctx, PreviewArgs(clip, fps, first, last, dst))
	if err == nil && !isWebPFile(dst) {
		stderr, err = t.runFFmpeg(ctx, previewArgsWithFilter(clip, fps, first, last, dst, "fps=1:eof_action=pass"))
	}
	if err == nil && isWebPFile(dst) {
		return nil
	}
	_ = os.Remove(dst)
	if ctx.Err() != nil {
		return fmt.Errorf("preview %s: %w", clip, ctx.Err())
	}
	if err == nil {
		return &MediaError{Path: clip, Reason: fmt.Sprintf("preview failed: no frame in window %d-%d", first, last)}
	}
	return toolFailure(clip, "preview failed", stderr, err, clip, dst)
}

// isWebPFile tells whether path starts with a RIFF/WEBP header and a chunk.
func isWebPFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var header [16]byte
	if _, err := io.ReadFull(f, header[:]); err != nil {
		return false
	}
	return string(header[0:4]) == "RIFF" && string(header[8:12]) == "WEBP"
}

// runFFmpeg runs ffmpeg with args and returns what it said on stderr.
func (t Tools) runFFmpeg(ctx context.Context, args []string) (*stderrCapture, error) {
	stderr := &stderrCapture{}
	cmd := exec.CommandContext(ctx, t.FFmpeg, args...)
	cmd.Stderr = stderr
	return stderr, cmd.Run()
}

// toolFailure turns a failed ffmpeg run into a *MediaError with one line of
// reason, or into a plain error when the tool could not be started at all.
// A run that says why in environment terms (a signal, a full disk: see
// curate/fault) is an *fault.EnvError instead: the video is not at fault.
func toolFailure(path, what string, stderr *stderrCapture, err error, paths ...string) error {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return fmt.Errorf("%s: %s: %w", path, what, err)
	}
	line := cleanToolLine(stderr.lastLine(), paths...)
	if line == "" {
		line = exitErr.String()
	}
	if cause, full, env := fault.Classify(err); env {
		return &fault.EnvError{Path: path, Cause: what + ": ffmpeg " + cause, DiskFull: full, Err: err}
	}
	if cause, full, env := fault.Classify(errors.New(stderr.String())); env {
		return &fault.EnvError{Path: path, Cause: what + ": " + cause + " (ffmpeg: " + line + ")", DiskFull: full, Err: err}
	}
	return &MediaError{Path: path, Reason: what + ": " + line, Err: err}
}

func refusesAudioCopy(stderr *stderrCapture) bool {
	text := stderr.String()
	for _, marker := range audioCopyRefusals {
		if strings.Contains(text, marker) {
			return true
		}
	}
	return false
}

// mediaURL names a local file for ffmpeg: the file: protocol takes the rest
// of the string verbatim, while a bare name starting with '-' would be an
// option and one containing ':' a protocol.
func mediaURL(path string) string { return "file:" + path }

// mediaTime formats seconds for -ss/-to. ffmpeg keeps microseconds and drops
// further digits, so the value is rounded to the nearest microsecond first:
// a span end of 0.7999999999999999 (0.1 added eight times) becomes "0.8",
// not ffmpeg's truncated 0.799999.
func mediaTime(seconds float64) string {
	return strconv.FormatFloat(math.Round(seconds*1e6)/1e6, 'f', -1, 64)
}

// stderrCapture keeps the first and the last stderrLimit bytes of a stream.
type stderrCapture struct {
	head, tail []byte
}

func (c *stderrCapture) Write(p []byte) (int, error) {
	n := len(p)
	if room := stderrLimit - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	c.tail = append(c.tail, p...)
	if over := len(c.tail) - stderrLimit; over > 0 {
		c.tail = c.tail[:copy(c.tail, c.tail[over:])]
	}
	return n, nil
}

func (c *stderrCapture) String() string { return string(c.head) + string(c.tail) }

// firstLine is the first non-blank line.
func (c *stderrCapture) firstLine() string {
	for _, line := range strings.Split(c.String(), "\n") {
		if strings.TrimSpace(line) != "" {
			return line
		}
	}
	return ""
}

// ffmpeg lines that only say that an earlier line was fatal.
var genericToolLines = []string{"Conversion failed", "Error initializing output stream"}

// lastLine is the last non-blank line that is not one of genericToolLines.
func (c *stderrCapture) lastLine() string {
	lines := strings.Split(c.String(), "\n")
	fallback := ""
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if !hasAnyPrefix(line, genericToolLines) {
			return line
		}
		if fallback == "" {
			fallback = line
		}
	}
	return fallback
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// toolLogContext matches the "[mov,mp4,m4a @ 0x55d0c1a2b3c0] " prefix of
// ffmpeg log lines: it names a pointer, so it differs on every run.
var toolLogContext = regexp.MustCompile(`^\[[^\]]* @ 0x[0-9a-fA-F]+\]\s*`)

const maxReasonLen = 300

// cleanToolLine makes one line of ffmpeg stderr fit for a human: no log
// context, no file names (the MediaError already names the file), valid
// UTF-8, bounded length.
func cleanToolLine(line string, paths ...string) string {
	line = toolLogContext.ReplaceAllString(strings.TrimSpace(line), "")
	for _, p := range paths {
		if p == "" {
			continue
		}
		line = strings.ReplaceAll(line, mediaURL(p), "")
		line = strings.ReplaceAll(line, p, "")
	}
	line = scrubURLs(line)
	line = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), ":"))
	line = strings.ToValidUTF8(line, "\uFFFD")
	if len(line) > maxReasonLen {
		cut := maxReasonLen
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "..."
	}
	return strings.TrimSpace(line)
}
