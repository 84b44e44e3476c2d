package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clipfs/clipfs/curate/plan"
)

func TestFrameSize(t *testing.T) {
	tests := []struct {
		width, height, maxSide int
		wantW, wantH           int
	}{
		{1920, 1080, 512, 512, 288},
		{1080, 1920, 512, 288, 512},
		{320, 240, 512, 320, 240},
		{1920, 1080, 0, 1920, 1080},
		{321, 241, 0, 320, 240},
		{640, 480, 511, 510, 382},
		{4000, 10, 512, 512, 2},
		{1, 1, 512, 2, 2},
	}
	for _, tc := range tests {
		w, h := FrameSize(tc.width, tc.height, tc.maxSide)
		if w != tc.wantW || h != tc.wantH {
			t.Errorf("FrameSize(%d, %d, %d) = %dx%d, want %dx%d",
				tc.width, tc.height, tc.maxSide, w, h, tc.wantW, tc.wantH)
		}
	}
}

func TestFrameExtractArgs(t *testing.T) {
	args := FrameExtractArgs("/v/-a.mkv", []int{3, 10, 11, 12, 40, 41}, 64, 48)
	want := []string{
		"-nostdin", "-v", "error", "-threads", "1",
		"-i", "file:/v/-a.mkv", "-map", "0:v:0", "-an", "-sn",
		"-fps_mode", "passthrough",
		"-vf", `select='eq(n\,3)+between(n\,10\,12)+between(n\,40\,41)',scale=64:48`,
		"-frames:v", "6",
		"-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1",
	}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("FrameExtractArgs =\n%q\nwant\n%q", args, want)
	}
}

// frameColour is the colour of frame n in clips made by writeFrameClip.
func frameColour(n int) color.RGBA {
	return color.RGBA{R: uint8(n * 8), G: uint8(255 - n*8), B: 128, A: 255}
}

// writeFrameClip writes a lossless (FFV1, RGB) clip of numFrames frames of
// width×height at 25 fps whose frame n is filled with frameColour(n).
func writeFrameClip(t *testing.T, tools Tools, path string, width, height, numFrames int) {
	t.Helper()
	// format=gbrp keeps the scaler in RGB: through YUV the colours drift.
	source := "color=black:s=64x36:r=25,geq=r='N*8':g='255-N*8':b=128,format=gbrp," +
		"scale=" + strconv.Itoa(width) + ":" + strconv.Itoa(height) + ":flags=neighbor"
	out, err := exec.Command(tools.FFmpeg, "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", source, "-frames:v", strconv.Itoa(numFrames),
		"-c:v", "ffv1", "-threads", "1", mediaURL(path)).CombinedOutput()
	if err != nil {
		t.Fatalf("make clip %s: %v\n%s", path, err, out)
	}
}

// checkSolid reports whether every pixel of img is within 2 of want.
func checkSolid(t *testing.T, img *image.RGBA, want color.RGBA, what string) {
	t.Helper()
	near := func(a, b uint8) bool { return a-b <= 2 || b-a <= 2 }
	for i := 0; i < len(img.Pix); i += 4 {
		p := img.Pix[i : i+4]
		if !near(p[0], want.R) || !near(p[1], want.G) || !near(p[2], want.B) || p[3] != 255 {
			t.Errorf("%s: pixel %d is %v, want %v", what, i/4, p, want)
			return
		}
	}
}

func TestExtractFrames(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name                  string
		file                  string
		width, height, frames int
		pick                  []int
		maxSide               int
		wantW, wantH          int
	}{
		{"single frames and runs", "small.mkv", 64, 48, 30, []int{0, 3, 10, 11, 12, 29}, 0, 64, 48},
		{"1080p scaled down", "big.mkv", 1920, 1080, 3, []int{0, 2}, 512, 512, 288},
		{"portrait scaled down", "tall.mkv", 360, 640, 6, []int{5}, 320, 180, 320},
		{"small never upscaled", "-odd ?name#%.mkv", 320, 240, 6, []int{2, 4}, 512, 320, 240},
	}
	for _, tc := range tests {
		path := filepath.Join(dir, tc.file)
		writeFrameClip(t, tools, path, tc.width, tc.height, tc.frames)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			images, err := tools.ExtractFrames(context.Background(), path, tc.width, tc.height, tc.pick, tc.maxSide)
			if err != nil {
				t.Fatalf("ExtractFrames: %v", err)
			}
			if len(images) != len(tc.pick) {
				t.Fatalf("got %d images, want %d", len(images), len(tc.pick))
			}
			for i, img := range images {
				if b := img.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH {
					t.Errorf("frame %d is %dx%d, want %dx%d", tc.pick[i], b.Dx(), b.Dy(), tc.wantW, tc.wantH)
					continue
				}
				checkSolid(t, img, frameColour(tc.pick[i]), "frame "+strconv.Itoa(tc.pick[i]))
			}
		})
	}
}

func TestExtractFramesPastTheEnd(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	path := filepath.Join(t.TempDir(), "short.mkv")
	writeFrameClip(t, tools, path, 64, 48, 30)
	_, err := tools.ExtractFrames(context.Background(), path, 64, 48, []int{5, 40, 50}, 0)
	var me *MediaError
	if !errors.As(err, &me) || me.Path != path {
		t.Fatalf("ExtractFrames past the end = %v, want *MediaError for %s", err, path)
	}
	checkReason(t, me.Reason, "frame extraction failed: got 1 of 3 frames, the video ends before frame 40", path)
}

func TestExtractFramesFailure(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mp4")
	if err := os.WriteFile(garbage, []byte("not a video at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{garbage, filepath.Join(dir, "missing.mp4")} {
		images, err := tools.ExtractFrames(context.Background(), path, 64, 48, []int{0}, 0)
		var me *MediaError
		if !errors.As(err, &me) || me.Path != path || images != nil {
			t.Fatalf("ExtractFrames(%s) = %d images, %v; want *MediaError for the file", path, len(images), err)
		}
		checkReason(t, me.Reason, "frame extraction failed: ", path)
	}
}

func TestExtractFramesBadArguments(t *testing.T) {
	tools := Tools{FFmpeg: "/nonexistent/ffmpeg"} // never run
	tests := []struct {
		name          string
		width, height int
		frames        []int
	}{
		{"descending", 64, 48, []int{3, 2}},
		{"repeated", 64, 48, []int{2, 2}},
		{"negative", 64, 48, []int{-1}},
		{"no size", 0, 48, []int{1}},
	}
	for _, tc := range tests {
		_, err := tools.ExtractFrames(context.Background(), "v.mp4", tc.width, tc.height, tc.frames, 0)
		var me *MediaError
		if err == nil || errors.As(err, &me) || !strings.HasPrefix(err.Error(), "extract frames v.mp4: ") {
			t.Errorf("%s: ExtractFrames = %v, want a plain error about the arguments", tc.name, err)
		}
	}
	if images, err := tools.ExtractFrames(context.Background(), "v.mp4", 64, 48, nil, 0); images != nil || err != nil {
		t.Errorf("ExtractFrames with no frames = %v, %v; want nothing and no ffmpeg run", images, err)
	}
}

func TestExtractFramesCancelled(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	// ffmpeg blocks opening a FIFO that nobody writes: only cancelling ends it.
	fifo := filepath.Join(t.TempDir(), "stuck.mkv")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(200*time.Millisecond, cancel)
	defer timer.Stop()
	begin := time.Now()
	_, err := tools.ExtractFrames(ctx, fifo, 64, 48, []int{0}, 0)
	var me *MediaError
	if !errors.Is(err, context.Canceled) || errors.As(err, &me) {
		t.Fatalf("ExtractFrames cancelled in flight = %v, want context.Canceled and no MediaError", err)
	}
	if elapsed := time.Since(begin); elapsed > 3*time.Second {
		t.Errorf("cancelled ExtractFrames took %v", elapsed)
	}

	_, err = tools.ExtractFrames(ctx, fifo, 64, 48, []int{0}, 0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ExtractFrames with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestEncodeJPEG(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	want := color.RGBA{R: 200, G: 40, B: 90, A: 255}
	for i := 0; i < len(img.Pix); i += 4 {
		copy(img.Pix[i:], []byte{want.R, want.G, want.B, want.A})
	}
	for _, quality := range []int{85, 0, 1000} {
		data, err := EncodeJPEG(img, quality)
		if err != nil {
			t.Fatalf("EncodeJPEG(q=%d): %v", quality, err)
		}
		if !bytes.HasPrefix(data, []byte{0xFF, 0xD8}) || !bytes.Contains(data, []byte{0xFF, 0xC0}) ||
			bytes.Contains(data, []byte{0xFF, 0xC2}) {
			t.Errorf("EncodeJPEG(q=%d) is not a baseline JPEG", quality)
		}
		decoded, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if b := decoded.Bounds(); b.Dx() != 48 || b.Dy() != 32 {
			t.Errorf("decoded size %dx%d, want 48x32", b.Dx(), b.Dy())
		}
		if quality >= 85 {
			r, g, b, _ := decoded.At(24, 16).RGBA()
			got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
			for i, w := range [3]int{int(want.R), int(want.G), int(want.B)} {
				if got[i]-w > 6 || w-got[i] > 6 {
					t.Errorf("q=%d: centre pixel %v, want about %v", quality, got, want)
					break
				}
			}
		}
	}
	if _, err := EncodeJPEG(image.NewGray(image.Rect(0, 0, 1<<16, 1)), 90); err == nil ||
		!strings.HasPrefix(err.Error(), "encode jpeg: ") {
		t.Errorf("EncodeJPEG of a too wide image = %v, want an encode jpeg error", err)
	}
}

func TestExtractFramesToJPEG(t *testing.T) {
	tools := mediaTestTools(t)
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clip.mkv")
	writeFrameClip(t, tools, path, 160, 90, 20)
	frames := plan.EvenFrames(plan.Window{Start: 0, End: 19}, 4)
	images, err := tools.ExtractFrames(context.Background(), path, 160, 90, frames, 64)
	if err != nil {
		t.Fatalf("ExtractFrames: %v", err)
	}
	for i, img := range images {
		data, err := EncodeJPEG(img, 90)
		if err != nil {
			t.Fatalf("EncodeJPEG: %v", err)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != 64 || cfg.Height != 36 {
			t.Errorf("frame %d: JPEG config %+v, %v; want 64x36", frames[i], cfg, err)
		}
	}
}
