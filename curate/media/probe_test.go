package media

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mediaTestTools returns ffmpeg and ffprobe for a test; when they are missing
// the test is skipped, except in CI (env CI non-empty) where it fails.
func mediaTestTools(t *testing.T) Tools {
	t.Helper()
	tools, err := DefaultTools()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs ffmpeg: %v", err)
		}
		t.Skip(err)
	}
	return tools
}

// mediaSample describes a small synthetic video made with ffmpeg's lavfi.
type mediaSample struct {
	rate    string   // frame rate, "25" or "30000/1001"
	seconds string   // duration
	audio   string   // audio codec (aac, libopus, pcm_s16le, flac), "" for none
	video   []string // video codec args; libx264 ultrafast when nil
}

// write makes the sample at path (parent folders included).
func (s mediaSample) write(t *testing.T, tools Tools, path string) {
	t.Helper()
	args := []string{"-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=" + s.rate}
	if s.audio != "" {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
	}
	args = append(args, "-t", s.seconds)
	video := s.video
	if video == nil {
		video = []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	}
	args = append(args, video...)
	if s.audio != "" {
		args = append(args, "-c:a", s.audio)
	} else {
		args = append(args, "-an")
	}
	args = append(args, "-threads", "1", mediaURL(path))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tools.FFmpeg, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("make sample %s: %v\n%s", path, err, out)
	}
}

func mediaApprox(got, want, tolerance float64) bool { return math.Abs(got-want) <= tolerance }

func TestProbe(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name   string
		file   string
		sample mediaSample
		want   VideoInfo // NumBytes is checked against the file size
	}{
		{"mp4 with aac", "plain.mp4", mediaSample{rate: "25", seconds: "3", audio: "aac"},
			VideoInfo{Width: 160, Height: 120, FrameRate: 25, NumFrames: 75, Duration: 3,
				VideoCodec: "h264", PixelFormat: "yuv420p", AudioCodec: "aac"}},
		{"29.97 fps nested unicode name", "a/b/ünïcode clip.mp4", mediaSample{rate: "30000/1001", seconds: "2"},
			VideoInfo{Width: 160, Height: 120, FrameRate: 30000.0 / 1001, NumFrames: 60, Duration: 2.002,
				VideoCodec: "h264", PixelFormat: "yuv420p"}},
		{"leading dash and url characters", "-x ?y#z%d.mp4", mediaSample{rate: "24", seconds: "1"},
			VideoInfo{Width: 160, Height: 120, FrameRate: 24, NumFrames: 24, Duration: 1,
				VideoCodec: "h264", PixelFormat: "yuv420p"}},
		{"mkv without nb_frames", "a/c.mkv", mediaSample{rate: "25", seconds: "2", audio: "flac"},
			VideoInfo{Width: 160, Height: 120, FrameRate: 25, NumFrames: 50, Duration: 2,
				VideoCodec: "h264", PixelFormat: "yuv420p", AudioCodec: "flac"}},
	}
	for _, tc := range tests {
		path := filepath.Join(dir, tc.file)
		tc.sample.write(t, tools, path)
		t.Run(tc.name, func(t *testing.T) {
			got, err := tools.Probe(context.Background(), path)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			st, _ := os.Stat(path)
			want := tc.want
			want.NumBytes = st.Size()
			// Audio may outlast the video by one audio frame; allow a video frame.
			if !mediaApprox(got.Duration, want.Duration, 1/want.FrameRate) {
				t.Errorf("Duration = %v, want %v", got.Duration, want.Duration)
			}
			got.Duration = want.Duration
			if !mediaApprox(got.FrameRate, want.FrameRate, 1e-9) {
				t.Errorf("FrameRate = %v, want %v", got.FrameRate, want.FrameRate)
			}
			got.FrameRate = want.FrameRate
			if got != want {
				t.Errorf("Probe = %+v\nwant    %+v", got, want)
			}
		})
	}
}

// brokenMediaFixtures makes the files TestProbeErrors probes, by name.
func brokenMediaFixtures(t *testing.T, tools Tools, dir string) map[string]string {
	t.Helper()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ffmpeg := func(name string, args ...string) string {
		p := filepath.Join(dir, name)
		args = append([]string{"-v", "error", "-f", "lavfi"}, append(args, p)...)
		if out, err := exec.Command(tools.FFmpeg, args...).CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", name, err, out)
		}
		return p
	}
	good := ffmpeg("good.mp4", "-i", "testsrc=size=160x120:rate=25:duration=2", "-c:v", "libx264", "-preset", "ultrafast")
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"missing":        filepath.Join(dir, "missing.mp4"),
		"missing parent": filepath.Join(good, "x.mp4"),
		"empty":          write("empty.mp4", nil),
		"text":           write("notes.mp4", []byte("hello, this is not a video\n")),
		"truncated":      write("cut short.mp4", goodBytes[:len(goodBytes)/2]), // moov is at the end
		"directory":      filepath.Join(dir, "a dir.mp4"),
		"audio only":     ffmpeg("audio only.m4a", "-i", "sine=duration=1", "-c:a", "aac"),
		// An AVI keeps its video stream when it has no frame; MP4 drops it.
		"no frames":  ffmpeg("no frames.avi", "-i", "testsrc=size=160x120:rate=25", "-frames:v", "0", "-c:v", "mpeg4"),
		"unreadable": write("locked.mp4", goodBytes),
	}
	if err := os.Mkdir(files["directory"], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(files["unreadable"], 0); err != nil {
		t.Fatal(err)
	}
	return files
}

func TestProbeErrors(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	files := brokenMediaFixtures(t, tools, t.TempDir())
	tests := []struct {
		name       string
		path       string
		reason     string // exact, or a prefix when it ends in ": "
		notExist   bool   // errors.Is(err, fs.ErrNotExist)
		skipAsRoot bool
	}{
		{"missing", files["missing"], "no such file", true, false},
		{"missing parent", files["missing parent"], "no such file", false, false},
		{"empty", files["empty"], "empty file", false, false},
		{"text renamed mp4", files["text"], "not a readable video: ", false, false},
		{"truncated mp4", files["truncated"], "not a readable video: ", false, false},
		{"directory", files["directory"], "not a readable video: is a directory", false, false},
		{"audio only", files["audio only"], "no video stream", false, false},
		{"no frames", files["no frames"], "zero duration", false, false},
		{"unreadable", files["unreadable"], "permission denied", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skipAsRoot && os.Geteuid() == 0 {
				t.Skip("root reads files whatever their mode")
			}
			_, err := tools.Probe(context.Background(), tc.path)
			var me *MediaError
			if !errors.As(err, &me) {
				t.Fatalf("Probe error = %v (%T), want *MediaError", err, err)
			}
			if me.Path != tc.path || err.Error() != tc.path+": "+me.Reason {
				t.Errorf("Path = %q, Error() = %q", me.Path, err.Error())
			}
			checkReason(t, me.Reason, tc.reason, tc.path)
			if tc.notExist && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
			}
		})
	}
}

// checkReason compares a reason with want (a prefix when want ends in ": ")
// and checks that it is one clean line: no path, no pointer, no newline.
func checkReason(t *testing.T, reason, want, path string) {
	t.Helper()
	if strings.HasSuffix(want, ": ") {
		if !strings.HasPrefix(reason, want) || len(reason) == len(want) {
			t.Errorf("Reason = %q, want %q followed by ffmpeg's words", reason, want)
		}
	} else if reason != want {
		t.Errorf("Reason = %q, want %q", reason, want)
	}
	if strings.Contains(reason, path) || strings.Contains(reason, "@ 0x") || strings.Contains(reason, "\n") {
		t.Errorf("Reason %q is not one clean line", reason)
	}
}

func TestProbeCancelled(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	path := filepath.Join(t.TempDir(), "v.mp4")
	mediaSample{rate: "25", seconds: "1"}.write(t, tools, path)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tools.Probe(ctx, path)
	var me *MediaError
	if !errors.Is(err, context.Canceled) || errors.As(err, &me) {
		t.Fatalf("Probe with cancelled context = %v, want context.Canceled and no MediaError", err)
	}
}

func TestFFprobeReportVideoInfo(t *testing.T) {
	video := func(s ffprobeStream) ffprobeStream { s.CodecType = "video"; return s }
	tests := []struct {
		name       string
		streams    []ffprobeStream
		duration   string
		wantFrames int
		wantDur    float64
		wantFPS    float64
		wantReason string
	}{
		{"nb_frames and format duration", []ffprobeStream{video(ffprobeStream{AvgFrameRate: "25/1", NbFrames: "250"})},
			"10.000000", 250, 10, 25, ""},
		{"avg 0/0 falls back to r_frame_rate", []ffprobeStream{video(ffprobeStream{AvgFrameRate: "0/0", RFrameRate: "30000/1001"})},
			"10.01", 300, 10.01, 30000.0 / 1001, ""},
		{"stream duration when format has none", []ffprobeStream{video(ffprobeStream{AvgFrameRate: "24/1", Duration: "2.5"})},
			"N/A", 60, 2.5, 24, ""},
		{"frames and rate when no duration", []ffprobeStream{video(ffprobeStream{AvgFrameRate: "25/1", NbFrames: "50"})},
			"", 50, 2, 25, ""},
		{"cover art is not video", []ffprobeStream{{CodecType: "audio"}, func() ffprobeStream {
			s := video(ffprobeStream{AvgFrameRate: "90000/1"})
			s.Disposition.AttachedPic = 1
			return s
		}()}, "3.0", 0, 0, 0, "no video stream"},
		{"no duration at all", []ffprobeStream{video(ffprobeStream{AvgFrameRate: "25/1"})}, "N/A", 0, 0, 0, "zero duration"},
		{"no streams", nil, "1.0", 0, 0, 0, "no video stream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ffprobeReport{Streams: tc.streams}
			r.Format.Duration = tc.duration
			info, reason := r.videoInfo()
			if reason != tc.wantReason {
				t.Fatalf("reason = %q, want %q", reason, tc.wantReason)
			}
			if info.NumFrames != tc.wantFrames || !mediaApprox(info.Duration, tc.wantDur, 1e-9) ||
				!mediaApprox(info.FrameRate, tc.wantFPS, 1e-9) {
				t.Errorf("got frames %d duration %v fps %v, want %d %v %v",
					info.NumFrames, info.Duration, info.FrameRate, tc.wantFrames, tc.wantDur, tc.wantFPS)
			}
		})
	}
}

func TestParseFrameRate(t *testing.T) {
	for in, want := range map[string]float64{
		"25/1": 25, "30000/1001": 30000.0 / 1001, "0/0": 0, "": 0, "N/A": 0, "24": 24, "1/0": 0, "-25/1": 0,
	} {
		if got := parseFrameRate(in); got != want {
			t.Errorf("parseFrameRate(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFileAccessError(t *testing.T) {
	tests := []struct {
		err    error
		reason string
	}{
		{&fs.PathError{Op: "open", Path: "/v.mp4", Err: syscall.EACCES}, "permission denied"},
		{&fs.PathError{Op: "stat", Path: "/v.mp4", Err: syscall.ENOENT}, "no such file"},
		{&fs.PathError{Op: "stat", Path: "/v.mp4", Err: syscall.ENOTDIR}, "no such file"},
		{&fs.PathError{Op: "open", Path: "/v.mp4", Err: syscall.EIO}, "not a readable video: input/output error"},
	}
	for _, tc := range tests {
		err := FileError("/v.mp4", tc.err)
		var me *MediaError
		if !errors.As(err, &me) || me.Reason != tc.reason || !errors.Is(err, tc.err) {
			t.Errorf("FileError(%v) = %v, want reason %q wrapping it", tc.err, err, tc.reason)
		}
	}
}
