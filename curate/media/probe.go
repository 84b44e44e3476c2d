package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/clipfs/clipfs/curate/fault"
)

// VideoInfo is what ffprobe tells about a video file.
type VideoInfo struct {
	Width, Height int
	FrameRate     float64 // avg_frame_rate of the first video stream (fallback r_frame_rate); 0 if unknown
	NumFrames     int     // nb_frames if present, else round(Duration*FrameRate)
	Duration      float64 // seconds: format duration, fallback stream duration, fallback NumFrames/FrameRate
	VideoCodec    string  // codec_name
	PixelFormat   string  // pix_fmt
	AudioCodec    string  // codec_name of the first audio stream, "" when none
	NumBytes      int64   // file size
}

// Tools are the paths of the ffmpeg and ffprobe binaries.
type Tools struct {
	FFmpeg, FFprobe string
}

// DefaultTools finds ffmpeg and ffprobe in PATH.
func DefaultTools() (Tools, error) {
	var t Tools
	for _, tool := range []struct {
		name string
		path *string
	}{{"ffmpeg", &t.FFmpeg}, {"ffprobe", &t.FFprobe}} {
		p, err := exec.LookPath(tool.name)
		if err != nil {
			return Tools{}, fmt.Errorf("%s not found in PATH (install ffmpeg): %w", tool.name, err)
		}
		*tool.path = p
	}
	return t, nil
}

// Probe reads the stream and format information of the video at path with
// `ffprobe -v error -print_format json -show_format -show_streams`.
// A file that is not a usable video gives a *MediaError whose Reason is one of
// "no such file", "permission denied", "empty file", "no video stream",
// "zero duration" or "not a readable video: <what ffprobe said>".
// Cover art (an attached picture) does not count as a video stream.
func (t Tools) Probe(ctx context.Context, path string) (VideoInfo, error) {
	return t.ProbeSource(ctx, File(path))
}

// ProbeSource is Probe of a Source: a file, or an object that ffprobe
// reads over HTTP with range requests (its header and index, not the
// whole). An empty object is "empty file", as a file. Its errors name
// src.Name, never src.URL; a server that cannot be reached or refuses the
// URL is an *fault.EnvError.
func (t Tools) ProbeSource(ctx context.Context, src Source) (VideoInfo, error) {
	size := src.Size
	if src.URL == "" {
		var err error
		if size, err = checkVideoFile(src.Name); err != nil {
			return VideoInfo{}, err
		}
	} else if size == 0 {
		return VideoInfo{}, &MediaError{Path: src.Name, Reason: "empty file"}
	}
	report, err := t.runFFprobe(ctx, src)
	if err != nil {
		return VideoInfo{}, err
	}
	info, reason := report.videoInfo()
	if reason != "" {
		return VideoInfo{}, &MediaError{Path: src.Name, Reason: reason}
	}
	info.NumBytes = size
	return info, nil
}

// checkVideoFile finds the problems that need no ffprobe, and the file size.
func checkVideoFile(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, FileError(path, err)
	}
	switch {
	case st.IsDir():
		return 0, &MediaError{Path: path, Reason: "not a readable video: is a directory"}
	case !st.Mode().IsRegular():
		return 0, &MediaError{Path: path, Reason: "not a readable video: not a regular file"}
	case st.Size() == 0:
		return 0, &MediaError{Path: path, Reason: "empty file"}
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, FileError(path, err)
	}
	_ = f.Close()
	return st.Size(), nil
}

// FileError is the *MediaError for a video that could not be opened or
// read: missing, not permitted, or unreadable.
func FileError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return &MediaError{Path: path, Reason: "no such file", Err: err}
	case errors.Is(err, fs.ErrPermission):
		return &MediaError{Path: path, Reason: "permission denied", Err: err}
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return &MediaError{Path: path, Reason: "not a readable video: " + pathErr.Err.Error(), Err: err}
	}
	return &MediaError{Path: path, Reason: "not a readable video: " + err.Error(), Err: err}
}

func (t Tools) runFFprobe(ctx context.Context, src Source) (*ffprobeReport, error) {
	path := src.Name
	var stdout bytes.Buffer
	stderr := &stderrCapture{}
	args := []string{"-v", "error", "-print_format", "json", "-show_format", "-show_streams"}
	if src.URL == "" {
		args = append(args, mediaURL(path))
	} else {
		args = append(append(args, src.remoteOptions()...), src.URL)
	}
	cmd := exec.CommandContext(ctx, t.FFprobe, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("probe %s: %w", path, ctx.Err())
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ee := fault.AsEnv(path, err); ee != nil { // killed, not refused
			ee.Cause = "probe: ffprobe " + ee.Cause
			return nil, ee
		}
		if cause, full, env := fault.Classify(errors.New(stderr.String())); env {
			return nil, &fault.EnvError{Path: path, Cause: "probe: " + cause, DiskFull: full, Err: err}
		}
		line := cleanToolLine(stderr.firstLine(), src.hidden()...)
		if line == "" {
			line = exitErr.String()
		}
		return nil, &MediaError{Path: path, Reason: "not a readable video: " + line, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("probe %s: run ffprobe: %w", path, err)
	}
	var report ffprobeReport
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		return nil, &MediaError{Path: path, Reason: "not a readable video: unexpected ffprobe output", Err: err}
	}
	return &report, nil
}

// ffprobeReport is the part of ffprobe's JSON that Probe reads. Numbers that
// ffprobe prints as strings stay strings here and are parsed leniently.
type ffprobeReport struct {
	Streams []ffprobeStream `json:"streams"`
	Format  struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

type ffprobeStream struct {
	CodecType    string `json:"codec_type"`
	CodecName    string `json:"codec_name"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	PixFmt       string `json:"pix_fmt"`
	AvgFrameRate string `json:"avg_frame_rate"`
	RFrameRate   string `json:"r_frame_rate"`
	NbFrames     string `json:"nb_frames"`
	Duration     string `json:"duration"`
	Disposition  struct {
		AttachedPic int `json:"attached_pic"`
	} `json:"disposition"`
}

// videoInfo fills VideoInfo from the report, or says why it cannot.
func (r *ffprobeReport) videoInfo() (VideoInfo, string) {
	video, audio := r.firstStreams()
	if video == nil {
		return VideoInfo{}, "no video stream"
	}
	info := VideoInfo{
		Width:       video.Width,
		Height:      video.Height,
		VideoCodec:  video.CodecName,
		PixelFormat: video.PixFmt,
		FrameRate:   parseFrameRate(video.AvgFrameRate),
	}
	if info.FrameRate == 0 {
		info.FrameRate = parseFrameRate(video.RFrameRate)
	}
	if audio != nil {
		info.AudioCodec = audio.CodecName
	}
	info.Duration = parseSeconds(r.Format.Duration)
	if info.Duration == 0 {
		info.Duration = parseSeconds(video.Duration)
	}
	info.NumFrames, _ = strconv.Atoi(strings.TrimSpace(video.NbFrames))
	switch {
	case info.NumFrames <= 0 && info.FrameRate > 0:
		info.NumFrames = int(math.Round(info.Duration * info.FrameRate))
	case info.Duration == 0 && info.FrameRate > 0:
		info.Duration = float64(info.NumFrames) / info.FrameRate
	}
	if info.Duration <= 0 {
		return VideoInfo{}, "zero duration"
	}
	return info, ""
}

// firstStreams returns the first video stream that is not cover art and the
// first audio stream, either nil when absent.
func (r *ffprobeReport) firstStreams() (video, audio *ffprobeStream) {
	for i := range r.Streams {
		s := &r.Streams[i]
		switch {
		case s.CodecType == "video" && s.Disposition.AttachedPic == 0 && video == nil:
			video = s
		case s.CodecType == "audio" && audio == nil:
			audio = s
		}
	}
	return video, audio
}

// parseFrameRate reads ffprobe's "num/den" (or a plain number); 0 when
// unknown ("0/0") or not a positive finite rate.
func parseFrameRate(s string) float64 {
	num, den, isRatio := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	if isRatio {
		d, err := strconv.ParseFloat(den, 64)
		if err != nil || d == 0 {
			return 0
		}
		n /= d
	}
	if n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0
	}
	return n
}

// parseSeconds reads a duration ffprobe printed; 0 for "N/A", garbage or
// anything not positive and finite.
func parseSeconds(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	return v
}
