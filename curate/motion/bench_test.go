package motion

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// benchSeconds is the length of the benchmark clip.
const benchSeconds = 20

// benchClip is a 1280x720 30 fps libx264 clip of benchSeconds, made once per
// test binary in benchDir.
var (
	benchOnce sync.Once
	benchDir  string
	benchPath string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchClipPath makes the benchmark clip on first use: a scrolling test
// pattern, encoded as clips are (libx264, preset medium, yuv420p).
func benchClipPath(b *testing.B) string {
	b.Helper()
	ffmpeg := ffmpegPath(b)
	benchOnce.Do(func() {
		if benchDir, benchErr = os.MkdirTemp("", "motion-bench-"); benchErr != nil {
			return
		}
		benchPath = filepath.Join(benchDir, "720p30.mp4")
		c := clip{source: "testsrc2=size=1280x720:rate=30,scroll=h=0.002:v=0.001", seconds: "20"}
		// Encode with ffmpeg's own threads: only decoding is measured.
		c.x264 = []string{"-threads", "0"}
		c.make(b, ffmpeg, benchPath)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath
}

// reportPerClipMinute reports the time per op scaled to a minute of clip, and
// the frames each op decoded.
func reportPerClipMinute(b *testing.B, frames int) {
	perOp := b.Elapsed().Seconds() * 1000 / float64(b.N)
	b.ReportMetric(perOp*60/benchSeconds, "ms/clip-min")
	b.ReportMetric(float64(frames), "frames/op")
	b.ReportMetric(perOp/float64(frames), "ms/frame")
}

// BenchmarkMotionDecode is Decode and Compute of the clip, as the motion
// filter runs them (Decode stops after max(10, 20) frames with vectors).
func BenchmarkMotionDecode(b *testing.B) {
	path := benchClipPath(b)
	var frames int
	for b.Loop() {
		d, err := Decode(path)
		if err != nil {
			b.Fatal(err)
		}
		if s := Compute(d); s.GlobalMean <= 0 {
			b.Fatalf("no motion: %+v", s)
		}
		frames = d.Decoded
	}
	reportPerClipMinute(b, frames)
}

// BenchmarkDecodeOnly is the same libavcodec loop over every frame of the
// clip, without exporting motion vectors and without scoring: the cost of
// plain decoding.
func BenchmarkDecodeOnly(b *testing.B) {
	path := benchClipPath(b)
	var frames int
	for b.Loop() {
		n, err := decodeAll(path, false)
		if err != nil {
			b.Fatal(err)
		}
		frames = n
	}
	reportPerClipMinute(b, frames)
}

// BenchmarkDecodeExportMVs is BenchmarkDecodeOnly with motion vectors
// exported: the cost of the export alone.
func BenchmarkDecodeExportMVs(b *testing.B) {
	path := benchClipPath(b)
	var frames int
	for b.Loop() {
		n, err := decodeAll(path, true)
		if err != nil {
			b.Fatal(err)
		}
		frames = n
	}
	reportPerClipMinute(b, frames)
}

// BenchmarkCompute is Compute alone on the clip's decoded vectors.
func BenchmarkCompute(b *testing.B) {
	d, err := Decode(benchClipPath(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		Compute(d)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N)/float64(len(d.Frames)), "ms/frame")
}
