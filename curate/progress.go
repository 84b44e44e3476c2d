package curate

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
)

// Progress reports a run: on a terminal, one line redrawn in place (videos,
// clips, seconds of video, a bar and ETA); otherwise one plain line per
// finished video. Log lines written through Writer do not tangle with it.
type Progress struct {
	w        io.Writer
	terminal bool

	mu         sync.Mutex
	began      time.Time
	videos     int
	totalBytes int64
	doneVideos int
	doneBytes  int64
	clips      int
	seconds    float64
	unfinished int // videos an environment failure left for a re-run
	failures   int
	partial    map[string]int64 // bytes credited to unfinished videos
	drawn      bool
	stop       chan struct{}
	stopped    sync.WaitGroup
}

// NewProgress reports to w; terminal selects the redrawn line.
func NewProgress(w io.Writer, terminal bool) *Progress {
	return &Progress{w: w, terminal: terminal}
}

// Writer is w for log lines: on a terminal each write first clears the
// progress line, which is redrawn after it.
func (p *Progress) Writer() io.Writer { return progressWriter{p} }

type progressWriter struct{ p *Progress }

func (pw progressWriter) Write(b []byte) (int, error) {
	p := pw.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal && p.drawn {
		io.WriteString(p.w, "\r\033[K")
		p.drawn = false
	}
	n, err := p.w.Write(b)
	if p.terminal && !p.began.IsZero() && p.stop != nil {
		p.draw()
	}
	return n, err
}

func (p *Progress) start(videos []SourceVideo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.began = time.Now()
	p.videos = len(videos)
	p.partial = map[string]int64{}
	for _, v := range videos {
		p.totalBytes += max(v.Size, 1)
	}
	if !p.terminal {
		fmt.Fprintf(p.w, "curate: %d videos (%s) found\n", p.videos, humanBytes(p.totalBytes))
		return
	}
	p.stop = make(chan struct{})
	p.stopped.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			}
		}
	})
}

// clipDone credits a finished clip with its share of the video's bytes, so
// that one long video moves the bar too.
func (p *Progress) clipDone(v SourceVideo, seconds, videoSeconds float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clips++
	p.seconds += seconds
	if videoSeconds > 0 {
		credit := min(int64(float64(max(v.Size, 1))*seconds/videoSeconds), max(v.Size, 1)-p.partial[v.Path])
		p.partial[v.Path] += credit
		p.doneBytes += credit
	}
}

func (p *Progress) videoDone(v SourceVideo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.doneVideos++
	p.doneBytes += max(v.Size, 1) - p.partial[v.Path]
	delete(p.partial, v.Path)
	if !p.terminal {
		fmt.Fprintln(p.w, p.line())
	}
}

func (p *Progress) failed(err error) {
	p.mu.Lock()
	var ee *fault.EnvError
	if errors.As(err, &ee) {
		p.unfinished++
	} else {
		p.failures++
	}
	p.mu.Unlock()
}

func (p *Progress) finish() {
	if p.stop != nil {
		close(p.stop)
		p.stopped.Wait()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal {
		p.draw()
		io.WriteString(p.w, "\n")
		p.drawn = false
	}
}

// draw redraws the terminal line; p.mu held.
func (p *Progress) draw() {
	io.WriteString(p.w, "\r\033[K"+p.line())
	p.drawn = true
}

// line is the progress summary; p.mu held.
func (p *Progress) line() string {
	frac := 0.0
	if p.totalBytes > 0 {
		frac = float64(p.doneBytes) / float64(p.totalBytes)
	}
	s := fmt.Sprintf("curate: %d/%d videos  %d clips  %.1f s of video", p.doneVideos, p.videos, p.clips, p.seconds)
	if p.failures > 0 {
		s += fmt.Sprintf("  %d failed", p.failures)
	}
	if p.unfinished > 0 {
		s += fmt.Sprintf("  %d unfinished", p.unfinished)
	}
	if p.terminal {
		const width = 24
		n := int(frac * width)
		s += "  [" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
	}
	s += fmt.Sprintf(" %3.0f%%", frac*100)
	elapsed := time.Since(p.began)
	if frac > 0 && frac < 1 {
		eta := time.Duration(float64(elapsed) * (1 - frac) / frac)
		s += "  ETA " + eta.Round(time.Second).String()
	} else if frac >= 1 {
		s += "  in " + elapsed.Round(100*time.Millisecond).String()
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
