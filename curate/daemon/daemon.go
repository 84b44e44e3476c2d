package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/jobs"
	"github.com/clipfs/clipfs/curate/watch"
	"github.com/clipfs/clipfs/index"
)

// Config configures a Daemon. Zero durations take the defaults noted.
type Config struct {
	Curator *curate.Curator
	DB      *index.DB
	// Watch follows the input folder with inotify (and a periodic rescan);
	// without it only the videos present at start and submitted ones are
	// curated.
	Watch bool
	// Settle, OpenWrite and Rescan are the watcher's (watch.Options).
	Settle, OpenWrite, Rescan time.Duration
	// Videos is how many videos are curated at once (default: the
	// curator's ffmpeg workers).
	Videos int
	// SealAfter seals the open shard once curation has been idle this long
	// (0: only when full, or on Seal).
	SealAfter time.Duration
	// StopGrace is how long videos in hand may run on after Run's context
	// ends before they are abandoned (default 10s). Abandoned chunks leave
	// nothing behind; a restart curates them.
	StopGrace time.Duration
	// Log receives the daemon's events (Info) and failures (Warn); nil is silent.
	Log *slog.Logger
	// Dispatch, if set, curates each video instead of Curator: the workers
	// on the JetStream queue do the work (curate/dispatch). Curator still
	// names the videos and publishes.
	Dispatch Dispatcher
}

// Dispatcher hands a video to workers elsewhere and waits for its end, as
// curate.Curator.Video curates it here: an *fault.EnvError leaves it
// unfinished (retried with backoff), another error is the video's failure.
type Dispatcher interface {
	// Video calls queued once the job is on the queue (or it returned
	// early), so that the daemon queues jobs in its own order.
	Video(ctx context.Context, sv curate.SourceVideo, queued func()) (curate.Outcome, error)
	// Status is the queue and the workers, for Status.
	Status(ctx context.Context) jobs.Status
}

// Daemon is the curation service. Its methods are safe for concurrent use.
type Daemon struct {
	cfg     Config
	cur     *curate.Curator
	log     *slog.Logger
	started time.Time
	wake    chan struct{} // a video queued, resumed, or a slot freed
	abandon chan struct{} // closed by Abandon
	once    sync.Once

	mu       sync.Mutex
	queue    []string             // paths waiting, in order
	sizes    map[string]int64     // with Dispatch: the queued files' sizes, largest first
	queued   map[string]bool      // paths in queue
	inflight map[string]time.Time // paths being curated, since
	again    map[string]bool      // reported again while in flight
	paused   bool
	stopping bool
	watcher  *watch.Watcher
	totals   Totals
	recent   []sample // completions in the last rateWindow
	errs     []ErrorLine
	dirty    bool // clips committed since the last publish
	lastWork time.Time
	sealedAt time.Time // last idle seal
	publish  sync.Mutex
	// waiting holds videos an environment failure left unfinished, until
	// their retry; diskFull pauses taking videos until space returns.
	waiting  map[string]*Waiting
	diskFull string // why, while paused for space
}

// Waiting is a video left unfinished by a fault of the machine (a full
// disk, a killed tool, an endpoint down), retried with backoff. It is not
// a failure: nothing of the aborted chunk was committed.
type Waiting struct {
	Path     string    `json:"path"`
	Reason   string    `json:"reason"`
	Attempts int       `json:"attempts"`
	RetryAt  time.Time `json:"retry_at"`
}

// Backoff of waiting videos: the first retry after retryFirst, doubling up
// to retryMax.
const (
	retryFirst = 5 * time.Second
	retryMax   = 5 * time.Minute
)

// Totals count what the daemon did since it started.
type Totals struct {
	Curated  int     `json:"curated"`    // videos curated (or completed)
	UpToDate int     `json:"up_to_date"` // videos that needed nothing
	Failed   int     `json:"failed"`     // videos that could not be curated
	Clips    int     `json:"clips"`      // clips committed
	Bytes    int64   `json:"bytes"`      // bytes of clip media committed
	Seconds  float64 `json:"seconds"`    // seconds of video in those clips
	Sealed   int     `json:"shards_sealed"`
}

// ErrorLine is one failure, as logged.
type ErrorLine struct {
	Time  time.Time `json:"time"`
	Path  string    `json:"path"`
	Error string    `json:"error"`
}

// InFlight is a video being curated.
type InFlight struct {
	Path    string    `json:"path"`
	Since   time.Time `json:"since"`
	Seconds float64   `json:"seconds"` // how long so far
}

// Status is a snapshot of the daemon.
type Status struct {
	State    string     `json:"state"` // running, paused or stopping
	Input    string     `json:"input"`
	Uptime   float64    `json:"uptime_seconds"`
	Idle     bool       `json:"idle"`     // nothing queued, in flight or settling
	Queued   int        `json:"queued"`   // videos waiting
	Next     []string   `json:"next"`     // the first few of them
	Settling int        `json:"settling"` // files seen but still being written
	InFlight []InFlight `json:"in_flight"`
	Totals   Totals     `json:"totals"`
	// Throughput over the last minute.
	ClipsPerMinute        float64     `json:"clips_per_minute"`
	VideoSecondsPerSecond float64     `json:"video_seconds_per_second"`
	OpenShardSamples      int         `json:"open_shard_samples"`
	Errors                []ErrorLine `json:"errors"` // the most recent failures, oldest first
	// Waiting are videos a fault of the machine left unfinished, retried
	// with backoff; DiskFull says why taking videos is paused, if it is.
	Waiting  []Waiting `json:"waiting"`
	DiskFull string    `json:"disk_full,omitempty"`
	// Jobs is the queue and the workers, when the workers curate (Dispatch).
	Jobs *jobs.Status `json:"jobs,omitempty"`
}

type sample struct {
	at      time.Time
	clips   int
	seconds float64
}

const (
	rateWindow = time.Minute
	keepErrors = 20
	showNext   = 10
)

// New makes a daemon; Run starts it.
func New(cfg Config) (*Daemon, error) {
	if cfg.Curator == nil || cfg.DB == nil {
		return nil, errors.New("daemon: needs a curator and a database")
	}
	if cfg.Videos <= 0 {
		cfg.Videos = cfg.Curator.Workers()
		if cfg.Dispatch != nil {
			cfg.Videos = DispatchVideos
		}
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cfg: cfg, cur: cfg.Curator, log: cfg.Log, started: time.Now(), wake: make(chan struct{}, 1), abandon: make(chan struct{}),
		queued: map[string]bool{}, sizes: map[string]int64{}, inflight: map[string]time.Time{}, again: map[string]bool{}, waiting: map[string]*Waiting{}}
	if cfg.Watch {
		w, err := watch.New(cfg.Curator.Input(), watch.Options{Settle: cfg.Settle, OpenWrite: cfg.OpenWrite,
			Rescan: cfg.Rescan, Match: isVideo, Log: cfg.Log})
		if err != nil {
			return nil, err
		}
		d.watcher = w
	}
	return d, nil
}

// DispatchVideos is the default number of videos handed to the workers at
// once: jobs queued or in hand.
const DispatchVideos = 512

// isVideo matches the files curation takes, leaving out hidden files
// (temporary names of copy tools such as rsync's .name.XXXXXX).
func isVideo(p string) bool {
	base := filepath.Base(p)
	return !strings.HasPrefix(base, ".") && slices.Contains(curate.VideoExtensions, strings.ToLower(filepath.Ext(base)))
}

// Run curates until ctx is done: the videos already in the input folder,
// then each new or changed one once it has settled, and those submitted.
// When ctx ends it takes no new video, lets the videos in hand finish for
// StopGrace, abandons the rest (their unfinished chunks leave nothing) and
// returns nil.
func (d *Daemon) Run(ctx context.Context) error {
	work, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	var wg sync.WaitGroup
	watchErr := make(chan error, 1)
	if d.watcher != nil {
		wg.Go(func() { watchErr <- d.watcher.Run(ctx, func(p string) { d.enqueue(p) }) })
	} else {
		videos, errs := curate.Discover(d.cur.Input())
		for _, err := range errs {
			d.failed(d.cur.Input(), err)
		}
		for _, v := range videos {
			d.enqueue(v.Path)
		}
	}
	var workers sync.WaitGroup
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var runErr error
loop:
	for {
		for d.startNext(ctx, work, &workers) {
		}
		select {
		case <-ctx.Done():
			break loop
		case err := <-watchErr:
			if err != nil {
				runErr = fmt.Errorf("watching %s: %w", d.cur.Input(), err)
				break loop
			}
		case <-d.wake:
		case <-tick.C:
			d.retry()
			d.idleWork(work)
		}
	}
	d.mu.Lock()
	d.stopping = true
	n := len(d.inflight)
	d.mu.Unlock()
	if n > 0 {
		d.log.Info(fmt.Sprintf("stopping: waiting up to %s for %d videos in hand", d.cfg.StopGrace, n))
	}
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	abandoned := false
	select {
	case <-done:
	case <-time.After(d.cfg.StopGrace):
		d.log.Info("stopping: abandoning the chunks in hand; a restart curates them")
		abandoned = true
	case <-d.abandon:
		abandoned = true
	}
	if abandoned {
		abandon()
		<-done
	}
	wg.Wait()
	if !abandoned {
		d.publishNow(work, false) // index.parquet up to date with what was committed
	}
	return runErr
}

// startNext starts the next queued video if a slot is free and the daemon
// is neither paused nor stopping; it reports whether it started one. run
// is Run's context, ctx the one the videos are curated under.
func (d *Daemon) startNext(run, ctx context.Context, workers *sync.WaitGroup) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.paused || d.diskFull != "" || d.stopping || len(d.queue) == 0 || len(d.inflight) >= d.cfg.Videos {
		return false
	}
	p := d.queue[0]
	d.queue = d.queue[1:]
	delete(d.queued, p)
	delete(d.sizes, p)
	d.inflight[p] = time.Now()
	if d.cfg.Dispatch == nil {
		workers.Go(func() { d.curate(ctx, p, nil) })
		return true
	}
	// Jobs go on the queue one by one, in the daemon's order (largest
	// first), since workers take them in the order they were queued.
	queued := make(chan struct{})
	workers.Go(func() { d.curate(ctx, p, sync.OnceFunc(func() { close(queued) })) })
	d.mu.Unlock()
	select {
	case <-queued:
	case <-run.Done(): // stopping: no need to keep the order
	}
	d.mu.Lock()
	return true
}

// curate runs one video and books its outcome.
func (d *Daemon) curate(ctx context.Context, p string, queued func()) {
	if queued != nil {
		defer queued()
	}
	sv, err := d.cur.Source(p)
	var out curate.Outcome
	if err == nil && d.cfg.Dispatch != nil {
		out, err = d.cfg.Dispatch.Video(ctx, sv, queued)
	} else if err == nil {
		out, err = d.cur.Video(ctx, sv)
	} else {
		d.log.Warn(err.Error())
	}
	d.mu.Lock()
	delete(d.inflight, p)
	again := d.again[p]
	delete(d.again, p)
	var ee *fault.EnvError
	switch {
	case ctx.Err() != nil:
		// abandoned: nothing of the chunk in hand was committed
	case errors.As(err, &ee):
		d.waitLocked(p, ee)
	case err != nil:
		d.failedLocked(p, err)
	case out.UpToDate:
		delete(d.waiting, p)
		d.totals.UpToDate++
	default:
		delete(d.waiting, p)
		d.totals.Curated++
		d.log.Info(fmt.Sprintf("curated %s: %d clips, %.1f s of video", sv.Rel, out.Clips, out.Seconds))
	}
	d.totals.Clips += out.Clips
	d.totals.Bytes += out.Bytes
	d.totals.Seconds += out.Seconds
	if out.Clips > 0 {
		d.dirty = true
		d.recent = append(d.recent, sample{at: time.Now(), clips: out.Clips, seconds: out.Seconds})
	}
	d.lastWork = time.Now()
	d.mu.Unlock()
	if again && ctx.Err() == nil {
		d.enqueue(p)
	}
	d.poke()
}

func (d *Daemon) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// enqueue adds path to the queue unless it is there already; a path in
// flight is queued again once it is done (it changed meanwhile).
func (d *Daemon) enqueue(p string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.queued[p] {
		return
	}
	if _, ok := d.inflight[p]; ok {
		d.again[p] = true
		return
	}
	d.queued[p] = true
	if d.cfg.Dispatch == nil {
		d.queue = append(d.queue, p)
		d.poke()
		return
	}
	// Largest first: a worker takes one video at a time, so a long video
	// taken last would leave the others idle while it runs.
	var size int64
	if st, err := os.Stat(p); err == nil {
		size = st.Size()
	}
	d.sizes[p] = size
	i, _ := slices.BinarySearchFunc(d.queue, size, func(q string, size int64) int {
		if d.sizes[q] >= size {
			return -1
		}
		return 1
	})
	d.queue = slices.Insert(d.queue, i, p)
	d.poke()
}

// waitLocked books a video left unfinished by an environment failure: it
// is retried after a backoff that doubles with each attempt, and a full
// disk pauses taking videos until space returns (retry checks it).
func (d *Daemon) waitLocked(p string, ee *fault.EnvError) {
	w := d.waiting[p]
	if w == nil {
		w = &Waiting{Path: p}
		d.waiting[p] = w
	}
	w.Attempts++
	w.Reason = ee.Cause
	delay := retryFirst
	for i := 1; i < w.Attempts && delay < retryMax; i++ {
		delay *= 2
	}
	w.RetryAt = time.Now().Add(min(delay, retryMax))
	if ee.DiskFull && d.diskFull == "" {
		d.diskFull = ee.Cause
		d.log.Warn("pausing: " + ee.Cause + "; curation resumes when space returns")
	}
	d.log.Info(fmt.Sprintf("waiting: %s: %s; retry %d in %s", p, ee.Cause, w.Attempts, min(delay, retryMax)))
}

// retry queues the waiting videos whose time has come, and lifts a pause
// for space once the database's filesystem has room again.
func (d *Daemon) retry() {
	d.mu.Lock()
	full := d.diskFull != ""
	d.mu.Unlock()
	if full && d.cur.Room() == nil {
		d.mu.Lock()
		d.diskFull = ""
		for _, w := range d.waiting { // space is back: try them now
			w.RetryAt = time.Now()
		}
		d.mu.Unlock()
		d.log.Info("resuming: the database's filesystem has room again")
	}
	var due []string
	d.mu.Lock()
	now := time.Now()
	for p, w := range d.waiting {
		if !w.RetryAt.After(now) && !d.queued[p] {
			due = append(due, p)
		}
	}
	d.mu.Unlock()
	slices.Sort(due)
	for _, p := range due {
		d.enqueue(p)
	}
}

// failed logs and counts a failure that curation did not (a folder that
// cannot be read).
func (d *Daemon) failed(p string, err error) {
	d.log.Warn(err.Error())
	d.mu.Lock()
	d.failedLocked(p, err)
	d.mu.Unlock()
}

// failedLocked counts a failure and keeps its line for status.
func (d *Daemon) failedLocked(p string, err error) {
	d.totals.Failed++
	d.errs = append(d.errs, ErrorLine{Time: time.Now(), Path: p, Error: err.Error()})
	if len(d.errs) > keepErrors {
		d.errs = d.errs[len(d.errs)-keepErrors:]
	}
}

// idle reports whether nothing is queued, in flight or settling.
func (d *Daemon) idleLocked() bool {
	settling := 0
	if d.watcher != nil {
		settling = d.watcher.Pending()
	}
	return len(d.queue) == 0 && len(d.inflight) == 0 && settling == 0 // waiting videos have their own clock
}

// idleWork publishes once work runs dry: index.parquet and shard md5s
// when clips came in, and the open shard sealed after SealAfter of quiet.
func (d *Daemon) idleWork(ctx context.Context) {
	d.mu.Lock()
	idle := d.idleLocked() && !d.stopping
	dirty := d.dirty
	seal := d.cfg.SealAfter > 0 && !d.lastWork.IsZero() && time.Since(d.lastWork) >= d.cfg.SealAfter && d.sealedAt.Before(d.lastWork)
	d.mu.Unlock()
	if !idle {
		return
	}
	if seal {
		d.mu.Lock()
		d.sealedAt = time.Now()
		d.mu.Unlock()
		d.publishNow(ctx, true)
	} else if dirty {
		d.publishNow(ctx, false)
	}
}

// publishNow seals (if seal) and publishes; it reports whether a shard sealed.
func (d *Daemon) publishNow(ctx context.Context, seal bool) (bool, error) {
	d.publish.Lock()
	defer d.publish.Unlock()
	d.mu.Lock()
	dirty := d.dirty
	d.dirty = false
	d.mu.Unlock()
	sealed, err := d.cur.Publish(ctx, seal, dirty)
	if err != nil {
		d.mu.Lock()
		d.dirty = dirty
		d.mu.Unlock()
	}
	if sealed {
		d.mu.Lock()
		d.totals.Sealed++
		d.mu.Unlock()
		d.log.Info("sealed the open shard")
	}
	return sealed, err
}

// Seal seals the open shard now (if it holds any sample), fills in its md5
// and rewrites index.parquet. It reports whether a shard sealed.
func (d *Daemon) Seal(ctx context.Context) (bool, error) { return d.publishNow(ctx, true) }

// Abandon makes a stopping Run give up the videos in hand now, without
// waiting for StopGrace.
func (d *Daemon) Abandon() { d.once.Do(func() { close(d.abandon) }) }

// Pause stops taking new videos; those in flight finish.
func (d *Daemon) Pause() {
	d.mu.Lock()
	d.paused = true
	d.mu.Unlock()
	d.log.Info("paused")
}

// Resume takes videos again.
func (d *Daemon) Resume() {
	d.mu.Lock()
	d.paused = false
	d.mu.Unlock()
	d.log.Info("resumed")
	d.poke()
}

// Submit queues the videos at paths (files, or folders searched
// recursively), which must lie under the input folder. Up-to-date videos
// are skipped when their turn comes. It returns the videos queued and one
// error per path refused.
func (d *Daemon) Submit(paths []string) ([]string, []error) {
	var queued []string
	var errs []error
	d.mu.Lock()
	stopping := d.stopping
	d.mu.Unlock()
	if stopping {
		return nil, []error{errors.New("clipfs serve is stopping; submit again after it restarts")}
	}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("%s: give an absolute path", p))
			continue
		}
		st, err := os.Lstat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, errors.Unwrap(err)))
			continue
		}
		if !st.IsDir() {
			sv, err := d.cur.Source(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			d.enqueue(sv.Path)
			queued = append(queued, sv.Path)
			continue
		}
		abs := filepath.Clean(p)
		if !d.cur.Under(abs) {
			errs = append(errs, fmt.Errorf("%s: not under the input folder %s", abs, d.cur.Input()))
			continue
		}
		videos, werrs := curate.Discover(abs)
		errs = append(errs, werrs...)
		if len(videos) == 0 && len(werrs) == 0 {
			errs = append(errs, fmt.Errorf("%s: no videos in it (%s)", abs, strings.Join(curate.VideoExtensions, " ")))
		}
		for _, v := range videos {
			d.enqueue(v.Path)
			queued = append(queued, v.Path)
		}
	}
	return queued, errs
}

// Status is a snapshot of the daemon's state.
func (d *Daemon) Status() Status {
	var js *jobs.Status
	if d.cfg.Dispatch != nil {
		st := d.cfg.Dispatch.Status(context.Background())
		js = &st
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	s := Status{State: "running", Input: d.cur.Input(), Uptime: now.Sub(d.started).Seconds(), Idle: d.idleLocked(),
		Queued: len(d.queue), Totals: d.totals, Errors: slices.Clone(d.errs), InFlight: []InFlight{}}
	switch {
	case d.stopping:
		s.State = "stopping"
	case d.paused:
		s.State = "paused"
	}
	s.Next = slices.Clone(d.queue[:min(len(d.queue), showNext)])
	if d.watcher != nil {
		s.Settling = d.watcher.Pending()
	}
	for p, since := range d.inflight {
		s.InFlight = append(s.InFlight, InFlight{Path: p, Since: since, Seconds: now.Sub(since).Seconds()})
	}
	slices.SortFunc(s.InFlight, func(a, b InFlight) int { return a.Since.Compare(b.Since) })
	s.Waiting, s.DiskFull = []Waiting{}, d.diskFull
	for _, w := range d.waiting {
		s.Waiting = append(s.Waiting, *w)
	}
	slices.SortFunc(s.Waiting, func(a, b Waiting) int { return strings.Compare(a.Path, b.Path) })
	i := 0
	for i < len(d.recent) && now.Sub(d.recent[i].at) > rateWindow {
		i++
	}
	d.recent = d.recent[i:]
	var clips int
	var secs float64
	for _, r := range d.recent {
		clips += r.clips
		secs += r.seconds
	}
	window := min(rateWindow, now.Sub(d.started)).Seconds()
	if window > 0 {
		s.ClipsPerMinute = float64(clips) / window * 60
		s.VideoSecondsPerSecond = secs / window
	}
	if h, err := d.cfg.DB.OpenShardHeader(); err == nil {
		s.OpenShardSamples = h.Samples
	}
	s.Jobs = js
	return s
}
