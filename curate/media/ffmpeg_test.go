package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/curate/plan"
)

func TestTranscode(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	dir := t.TempDir()
	vp8 := []string{"-c:v", "libvpx", "-deadline", "good", "-cpu-used", "5", "-b:v", "200k"}
	mpeg4 := []string{"-c:v", "mpeg4"}
	tests := []struct {
		name       string
		file       string
		sample     mediaSample
		fps        float64
		start, end float64
		wantAudio  string
	}{
		{"mp4 with aac copied", "src.mp4", mediaSample{rate: "25", seconds: "3", audio: "aac"}, 25, 1, 2.5, "aac"},
		{"29.97 fps without audio", "a/ünï code.mp4", mediaSample{rate: "30000/1001", seconds: "3"}, 30000.0 / 1001, 0.5, 1.8, ""},
		{"webm with opus copied", "-w?#.webm", mediaSample{rate: "25", seconds: "2", audio: "libopus", video: vp8}, 25, 0, 2, "opus"},
		{"avi with pcm re-encoded", "old.avi", mediaSample{rate: "25", seconds: "2", audio: "pcm_s16le", video: mpeg4}, 25, 0.4, 1.6, "aac"},
		{"mkv with flac re-encoded", "lossless.mkv", mediaSample{rate: "24", seconds: "2", audio: "flac"}, 24, 0, 1.5, "aac"},
	}
	for _, tc := range tests {
		src := filepath.Join(dir, tc.file)
		tc.sample.write(t, tools, src)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst := src + " clip.mp4"
			if err := tools.Transcode(context.Background(), src, tc.start, tc.end, dst); err != nil {
				t.Fatalf("Transcode: %v", err)
			}
			info, err := tools.Probe(context.Background(), dst)
			if err != nil {
				t.Fatalf("Probe clip: %v", err)
			}
			// Frames whose time k/fps lies in [start, end).
			wantFrames := int(math.Ceil(tc.end*tc.fps-1e-9)) - int(math.Ceil(tc.start*tc.fps-1e-9))
			frame := 1 / tc.fps
			if info.VideoCodec != "h264" || info.AudioCodec != tc.wantAudio {
				t.Errorf("codecs = %q/%q, want h264/%q", info.VideoCodec, info.AudioCodec, tc.wantAudio)
			}
			if info.NumFrames < wantFrames-1 || info.NumFrames > wantFrames+1 || !mediaApprox(info.Duration, tc.end-tc.start, frame+1e-6) {
				t.Errorf("clip has %d frames, %.4f s; want %d±1 frames, %.4f±%.4f s",
					info.NumFrames, info.Duration, wantFrames, tc.end-tc.start, frame)
			}
		})
	}
}

func TestTranscodeFailure(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "garbage.mp4")
	if err := os.WriteFile(src, []byte("not a video at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "out.mp4")
	err := tools.Transcode(context.Background(), src, 0, 1, dst)
	var me *MediaError
	if !errors.As(err, &me) || me.Path != src {
		t.Fatalf("Transcode = %v, want *MediaError for %s", err, src)
	}
	checkReason(t, me.Reason, "transcode failed: ", src)
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed transcode left %s behind", dst)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = tools.Transcode(ctx, src, 0, 1, dst)
	if !errors.Is(err, context.Canceled) || errors.As(err, &me) {
		t.Errorf("cancelled Transcode = %v, want context.Canceled and no MediaError", err)
	}
}

func TestPreview(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip one.mp4")
	mediaSample{rate: "25", seconds: "4"}.write(t, tools, clip)
	tests := []struct {
		name       string
		window     plan.Window
		wantFrames int // animation frames at 1 fps; 0 for a still WebP
	}{
		{"whole clip", plan.Window{Start: 0, End: 99}, 4},
		{"inner window", plan.Window{Start: 25, End: 74}, 2},
		{"four frames", plan.Window{Start: 40, End: 43}, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst := filepath.Join(dir, "previews", "-"+string(rune('a'+i))+"%d.webp")
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tools.Preview(context.Background(), clip, 25, tc.window.Start, tc.window.End, dst); err != nil {
				t.Fatalf("Preview: %v", err)
			}
			data, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			width, height, frames := webpShape(t, data)
			if width != 320 || height != 240 || frames != tc.wantFrames {
				t.Errorf("webp %dx%d with %d frames, want 320x240 with %d", width, height, frames, tc.wantFrames)
			}
			// ffprobe reads a name with %d as an image sequence: check a copy.
			// (ffmpeg 5.1 cannot decode animated WebP and says so on stderr,
			// but it reads the container.)
			plain := filepath.Join(dir, tc.name+".webp")
			if err := os.WriteFile(plain, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tools.FFprobe, "-v", "error", "-show_entries", "stream=codec_name",
				"-of", "csv=p=0", mediaURL(plain)).Output()
			if err != nil || strings.TrimSpace(string(out)) != "webp" {
				t.Errorf("ffprobe %s: %v %q", plain, err, out)
			}
		})
	}
}

// webpShape reads the canvas size and the number of animation frames (0 for
// a still image) of a WebP file.
func webpShape(t *testing.T, data []byte) (width, height, frames int) {
	t.Helper()
	if len(data) < 30 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		t.Fatalf("not a WebP file: % x", data[:min(len(data), 16)])
	}
	switch string(data[12:16]) {
	case "VP8X":
		u24 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
		width, height = u24(data[24:27])+1, u24(data[27:30])+1
		frames = bytes.Count(data, []byte("ANMF"))
	case "VP8 ":
		width = int(binary.LittleEndian.Uint16(data[26:28]) & 0x3fff)
		height = int(binary.LittleEndian.Uint16(data[28:30]) & 0x3fff)
	default:
		t.Fatalf("unexpected WebP chunk %q", data[12:16])
	}
	return width, height, frames
}

func TestTranscodeArgs(t *testing.T) {
	got := TranscodeArgs("/in/-a b.mp4", 10, 20.02, "/out/x.mp4")
	want := []string{
		"-nostdin", "-v", "error", "-y", "-threads", "1",
		"-ss", "10", "-to", "20.02", "-i", "file:/in/-a b.mp4",
		"-map", "0:v:0", "-c:v", "libx264", "-threads", "1",
		"-map", "0:a:0?", "-c:a", "copy", "-f", "mp4", "file:/out/x.mp4",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TranscodeArgs =\n%q\nwant\n%q", got, want)
	}
}

func TestPreviewArgs(t *testing.T) {
	got := PreviewArgs("/c/u.mp4", 25, 256, 511, "/p/256_511.webp")
	want := []string{
		"-nostdin", "-v", "error", "-y", "-threads", "1", "-ss", "10.22", "-to", "20.46",
		"-i", "file:/c/u.mp4", "-an", "-vf", "fps=1,scale=-1:240",
		"-c:v", "libwebp", "-lossless", "0", "-compression_level", "6", "-q:v", "50", "-loop", "0",
		"-f", "webp", "file:/p/256_511.webp",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PreviewArgs =\n%q\nwant\n%q", got, want)
	}
	if got := PreviewArgs("c.mp4", 0, 0, 9, "p.webp"); got[6] != "-i" {
		t.Errorf("PreviewArgs without fps = %q, want no -ss/-to", got)
	}
}

func TestMediaTime(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0", 10: "10", 0.1 + 0.1 + 0.1 + 0.1 + 0.1 + 0.1 + 0.1 + 0.1: "0.8",
		25.025000000000002: "25.025", 1e-7: "0", 33.3666666666: "33.366667", 12345.5: "12345.5",
	} {
		if got := mediaTime(in); got != want {
			t.Errorf("mediaTime(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanToolLine(t *testing.T) {
	tests := []struct{ line, want string }{
		{"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5615934371c0] moov atom not found", "moov atom not found"},
		{"file:/x/a b.mp4: Invalid data found when processing input", "Invalid data found when processing input"},
		{"/x/a b.mp4: No such file or directory", "No such file or directory"},
		{"  plain words  ", "plain words"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{strings.Repeat("é", 400), strings.Repeat("é", 150) + "..."},
	}
	for _, tc := range tests {
		if got := cleanToolLine(tc.line, "/x/a b.mp4"); got != tc.want {
			t.Errorf("cleanToolLine(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestStderrCapture(t *testing.T) {
	var c stderrCapture
	c.Write([]byte("first line\n"))
	for range 2000 {
		c.Write([]byte("[h264 @ 0x1] noise noise noise\n"))
	}
	c.Write([]byte("Could not write header: Invalid argument\nConversion failed!\n"))
	if len(c.head) > stderrLimit || len(c.tail) > stderrLimit {
		t.Fatalf("capture kept %d+%d bytes, limit %d each", len(c.head), len(c.tail), stderrLimit)
	}
	if got := c.firstLine(); got != "first line" {
		t.Errorf("firstLine = %q", got)
	}
	if got := c.lastLine(); got != "Could not write header: Invalid argument" {
		t.Errorf("lastLine = %q", got)
	}
	var only stderrCapture
	only.Write([]byte("Conversion failed!\n"))
	if got := only.lastLine(); got != "Conversion failed!" {
		t.Errorf("lastLine of generic only = %q", got)
	}
}
