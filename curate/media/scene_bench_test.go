//go:build unix

package media

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sceneBenchVideo is a 20 s 1280x720 30 fps H.264 video of six shots.
var sceneBenchVideo = sceneVideo{width: 1280, height: 720, rate: 30, sources: []sceneSource{
	{"testsrc2", 150}, {"smptebars", 90}, {"life=seed=1", 120}, {"mandelbrot", 90},
	{"cellauto=seed=1:scroll=0", 60}, {"color=c=0x2060c0", 90}}}

// sceneBenchFile is made once per test binary and kept in the temporary
// folder between runs (under a fixed name, so that it never piles up).
var sceneBenchFile struct {
	once sync.Once
	path string
}

// sceneBenchPath returns the benchmark video, making it when missing.
func sceneBenchPath(b *testing.B) (Tools, string) {
	b.Helper()
	tools, err := DefaultTools()
	if err != nil {
		if os.Getenv("CI") != "" {
			b.Fatalf("CI needs ffmpeg: %v", err)
		}
		b.Skip(err)
	}
	sceneBenchFile.once.Do(func() {
		path := filepath.Join(os.TempDir(), "clipfs-scene-bench-1280x720-30fps-v1.mp4")
		if _, err := os.Stat(path); err != nil {
			tmp := path + ".part" + randomSuffix()
			sceneBenchVideo.write(b, tools, tmp)
			if err := os.Rename(tmp, path); err != nil {
				b.Fatal(err)
			}
		}
		sceneBenchFile.path = path
	})
	if sceneBenchFile.path == "" {
		b.Fatal("no benchmark video")
	}
	return tools, sceneBenchFile.path
}

func randomSuffix() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	suffix := make([]byte, 8)
	for i := range suffix {
		suffix[i] = letters[rand.IntN(len(letters))]
	}
	return string(suffix) + ".mp4"
}

// BenchmarkSceneDetect is DetectCuts on the benchmark video: one ffmpeg
// decode at 256x144 and a ContentDetector over every frame.
func BenchmarkSceneDetect(b *testing.B) {
	tools, path := sceneBenchPath(b)
	wantCuts, wantFrames := sceneBenchVideo.cutsAndFrames()
	frames := 0
	cpu := startCPUClock(b)
	for b.Loop() {
		cuts, n, err := tools.DetectCuts(context.Background(), path, 1280, 720, defaultThreshold, defaultMinSceneLen)
		if err != nil {
			b.Fatal(err)
		}
		if !reflect.DeepEqual(cuts, wantCuts) || n != wantFrames {
			b.Fatalf("DetectCuts = %v over %d frames, want %v over %d", cuts, n, wantCuts, wantFrames)
		}
		frames += n
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
	cpu.report(b)
}

// BenchmarkSceneDecodeOnly runs the same ffmpeg command and reads the same
// frames as BenchmarkSceneDetect, without scoring them.
func BenchmarkSceneDecodeOnly(b *testing.B) {
	tools, path := sceneBenchPath(b)
	w, h := 1280, 720
	frames := 0
	cpu := startCPUClock(b)
	for b.Loop() {
		n, err := tools.decodeSceneFrames(context.Background(), File(path), w, h, 1, "", func(int, []byte) {})
		if err != nil {
			b.Fatal(err)
		}
		frames += n
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
	cpu.report(b)
}

// BenchmarkSceneScore is the detector alone on 256x144 frames of noise.
func BenchmarkSceneScore(b *testing.B) {
	frames := make([][]byte, 2)
	for i := range frames {
		frames[i] = make([]byte, 256*144*3)
		for j := range frames[i] {
			frames[i][j] = byte(rand.IntN(256))
		}
	}
	var d ContentDetector
	n := 0
	for b.Loop() {
		d.Push(frames[n%2])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
}

// cpuClock measures the processor time of this process (reading and
// scoring frames) and of the children it waited for (ffmpeg), so that a
// benchmark tells the work done besides the wall time: ffmpeg and the
// detector run on two cores at once.
type cpuClock struct{ self, ffmpeg time.Duration }

func readCPUClock(b *testing.B) cpuClock {
	var self, children syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children); err != nil {
		b.Fatal(err)
	}
	return cpuClock{
		self:   time.Duration(self.Utime.Nano() + self.Stime.Nano()),
		ffmpeg: time.Duration(children.Utime.Nano() + children.Stime.Nano()),
	}
}

func startCPUClock(b *testing.B) cpuClock { return readCPUClock(b) }

// report adds the processor time per operation, in ms, of Go and of ffmpeg.
func (c cpuClock) report(b *testing.B) {
	now := readCPUClock(b)
	b.ReportMetric(float64(now.self-c.self)/float64(b.N)/1e6, "go-cpu-ms/op")
	b.ReportMetric(float64(now.ffmpeg-c.ffmpeg)/float64(b.N)/1e6, "ffmpeg-cpu-ms/op")
}
