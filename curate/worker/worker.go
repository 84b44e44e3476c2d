package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/jobs"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/index"
)

// Config configures a Worker. Zero values take the defaults noted.
type Config struct {
	Conn  *nats.Conn
	Queue jobs.Queue
	Name  string // in status and logs (default: HOST-PID)
	// Local are this machine's choices: ffmpeg slots (Workers), the device
	// and batch of the models, the free space kept in Scratch, the caption
	// endpoints' token.
	Local curate.Local
	// Videos is how many jobs are in hand at once (default: Local.Workers,
	// or the number of cores).
	Videos int
	// Scratch is where tools write files before they go to the store
	// (default: a folder in the system's temporary folder). A job whose
	// store is a folder (file://) stages beside it instead, so that
	// putting a file is a rename.
	Scratch string
	Tools   media.Tools
	// OpenStore opens the blob store a job names (default: OpenStore).
	OpenStore func(ctx context.Context, uri string) (index.BlobStore, error)
	// StopGrace is how long jobs in hand may finish once Run's context
	// ends before they are given back (default 10s).
	StopGrace time.Duration
	// ConfirmWait bounds the wait for the owner's confirmation of a result
	// (default 2 minutes); the job is heartbeated meanwhile.
	ConfirmWait time.Duration
	Log         *slog.Logger
}

// Worker curates jobs until stopped. Run it once.
type Worker struct {
	cfg      Config
	q        jobs.Queue
	js       jetstream.JetStream
	log      *slog.Logger
	inbox    string
	started  time.Time
	host     string
	device   string
	maxDeliv int                // the consumer's MaxDeliver (under mu), refreshed by heartbeats
	cons     jetstream.Consumer // the workers' consumer, once found

	mu       sync.Mutex
	inHand   map[string]jobs.Job // job ID -> job
	waiters  map[string]chan jobs.Confirm
	curators map[string]*curatorEntry
	shipped  map[string]time.Duration // source -> time its job spent shipping results
	stores   map[string]index.BlobStore
	clips    int
	finished int
	recent   []stamp
	stopping bool

	abandonCh   chan struct{}
	abandonOnce sync.Once
	loadMu      sync.Mutex         // one curator set up at a time, outside mu
	refused     map[string]refusal // curator keys that could not be set up
	emptied     map[string]bool    // scratch folders emptied by this worker
}

// refusal is a curator that could not be set up, kept for refuseFor so
// that a worker whose settings never match does not reload its models for
// every delivery.
type refusal struct {
	err error
	at  time.Time
}

// refuseFor is how long a job this worker cannot curate is kept from it.
const refuseFor = 30 * time.Second

type stamp struct {
	at    time.Time
	clips int
}

// New checks cfg and prepares a worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Conn == nil {
		return nil, errors.New("worker: needs a NATS connection")
	}
	q, err := cfg.Queue.Normalised()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Local.Workers <= 0 {
		cfg.Local.Workers = runtime.NumCPU()
	}
	if cfg.Videos <= 0 {
		cfg.Videos = cfg.Local.Workers
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if cfg.ConfirmWait <= 0 {
		cfg.ConfirmWait = 2 * time.Minute
	}
	if cfg.OpenStore == nil {
		cfg.OpenStore = OpenStore
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Scratch == "" {
		cfg.Scratch = filepath.Join(os.TempDir(), "clipfs-worker-"+jobs.Token(cfg.Name))
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, err
	}
	device := cfg.Local.Device
	if device == "" {
		device = "auto"
	}
	return &Worker{cfg: cfg, q: q, js: js, log: cfg.Log.With("worker", cfg.Name), started: time.Now(), host: host,
		device: device, inHand: map[string]jobs.Job{}, waiters: map[string]chan jobs.Confirm{},
		curators: map[string]*curatorEntry{}, shipped: map[string]time.Duration{},
		abandonCh: make(chan struct{}), refused: map[string]refusal{}, emptied: map[string]bool{}, stores: map[string]index.BlobStore{}}, nil
}

// Abandon makes a stopping Run give back the jobs in hand now, without
// waiting for StopGrace.
func (w *Worker) Abandon() { w.abandonOnce.Do(func() { close(w.abandonCh) }) }

// Name is the worker's name.
func (w *Worker) Name() string { return w.cfg.Name }

// Run takes jobs until ctx ends, then lets the jobs in hand finish for
// StopGrace, gives back the rest (they are redelivered at once) and
// returns nil. It fails only when the queue cannot be used at all.
func (w *Worker) Run(ctx context.Context) error {
	if err := emptyFolder(w.cfg.Scratch); err != nil {
		return fmt.Errorf("worker scratch folder: %w", err)
	}
	w.inbox = w.cfg.Conn.NewRespInbox()
	sub, err := w.cfg.Conn.Subscribe(w.inbox, w.confirmed)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	cons, err := w.q.WorkersConsumerOf(ctx, w.js, func() {
		w.log.Info("waiting for the index owner to set up the queue " + w.q.JobsStream() + " (is clipfs serve running with --nats or --nats-listen?)")
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("queue %s: %w", w.q.JobsStream(), err)
	}
	w.mu.Lock()
	w.cons, w.maxDeliv = cons, cons.CachedInfo().Config.MaxDeliver
	w.mu.Unlock()
	w.log.Info(fmt.Sprintf("taking jobs from %s (%d at once, %d ffmpeg slots, device %s)", w.q.JobsStream(), w.cfg.Videos, w.cfg.Local.Workers, w.device))

	hbCtx, hbStop := context.WithCancel(context.Background())
	var hb sync.WaitGroup
	hb.Go(func() { w.heartbeats(hbCtx) })
	defer func() { hbStop(); hb.Wait() }()

	work, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	var inHand sync.WaitGroup
	slots := make(chan struct{}, w.cfg.Videos)
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		fetch, cancel := context.WithTimeout(ctx, 2*time.Second)
		msg, err := cons.Next(jetstream.FetchContext(fetch))
		cancel()
		if err != nil {
			<-slots
			if ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
				w.log.Warn("fetching a job: " + err.Error())
				sleep(ctx, time.Second)
			}
			continue
		}
		inHand.Go(func() {
			defer func() { <-slots }()
			w.handle(work, msg)
		})
	}
	w.mu.Lock()
	w.stopping = true
	n := len(w.inHand)
	w.mu.Unlock()
	w.beat()
	if n > 0 {
		w.log.Info(fmt.Sprintf("stopping: waiting up to %s for %d jobs in hand", w.cfg.StopGrace, n))
	}
	done := make(chan struct{})
	go func() { inHand.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.cfg.StopGrace):
		w.log.Info("stopping: giving the jobs in hand back to the queue")
		abandon()
		<-done
	case <-w.abandonCh:
		abandon()
		<-done
	}
	w.closeCurators()
	w.log.Info("stopped")
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// handle runs one delivered job to its ack, nak or term.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Warn("a job without metadata: " + err.Error())
		msg.Term()
		return
	}
	var job jobs.Job
	if err := json.Unmarshal(msg.Data(), &job); err != nil || job.Source == "" {
		w.log.Warn(fmt.Sprintf("job %d is not a clipfs job (%v); dropped", meta.Sequence.Stream, err))
		msg.TermWithReason("not a clipfs job")
		return
	}
	log := w.log.With("job", job.Rel)
	delivered := int(meta.NumDelivered)
	maxDeliv := w.maxDeliveries()
	last := maxDeliv > 0 && delivered >= maxDeliv
	w.track(job, true)
	defer w.track(job, false)
	defer w.forgetShipping(job.Source)

	// InProgress keeps the job ours while we are alive.
	beat, stopBeat := context.WithCancel(ctx)
	defer stopBeat()
	go func() {
		t := time.NewTicker(max(w.q.AckWait/4, 200*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-beat.Done():
				return
			case <-t.C:
				msg.InProgress()
			}
		}
	}()

	log.Info(fmt.Sprintf("curating %s (delivery %d of %d)", job.Source, delivered, maxDeliv))
	ent, err := w.curatorFor(ctx, job)
	if err != nil {
		log.Warn("cannot curate this job here: " + err.Error() + "; giving it back")
		msg.NakWithDelay(refuseFor)
		return
	}
	t0 := time.Now()
	sv := curate.SourceVideo{Path: job.Source, Rel: job.Rel, Size: job.Size}
	var out curate.Outcome
	// The file as this machine sees it must be the one the owner queued: a
	// file missing or different here is this machine's fault (a mount
	// missing, stale or of another precision), or a change since, which
	// the owner queues anew; never the video's own failure.
	fp, err := ent.cur.Fingerprint(ctx, sv)
	switch {
	case err != nil:
		err = &fault.EnvError{Path: job.Source, Cause: "the input is not readable on this worker: " + err.Error(), Err: err}
	case fp != job.Fingerprint:
		err = &fault.EnvError{Path: job.Source, Cause: "the file on this worker differs from the one queued (" + fp + ", queued " + job.Fingerprint + ")"}
	default:
		out, err = ent.cur.Video(ctx, sv)
	}
	stopBeat()
	var ee *fault.EnvError
	switch {
	case errors.Is(err, errStale):
		log.Info("dropped: the job was queued under settings the owner no longer curates with")
		msg.TermWithReason("stale settings")
	case ctx.Err() != nil:
		log.Info("given back unfinished (stopping); committed chunks stay")
		msg.Nak()
	case err == nil:
		res := jobs.Result{Kind: jobs.KindDone, Outcome: &out, Delivered: delivered, Took: (time.Since(t0) - w.shipping(job.Source, 0)).Seconds()}
		if cerr := w.send(ctx, msg, job, &res); errors.Is(cerr, errStale) {
			msg.TermWithReason("stale settings")
			return
		} else if cerr != nil {
			log.Warn("the owner did not confirm the job: " + cerr.Error() + "; giving it back")
			msg.NakWithDelay(5 * time.Second)
			return
		}
		crashAt("before-ack")
		if err := msg.DoubleAck(ctx); err != nil {
			log.Warn("ack: " + err.Error())
		}
		w.mu.Lock()
		w.finished++
		w.clips += out.Clips
		w.recent = append(w.recent, stamp{time.Now(), out.Clips})
		w.mu.Unlock()
		if out.UpToDate {
			log.Info("up to date")
		} else {
			log.Info(fmt.Sprintf("curated %s: %d clips, %.1f s of video in %.1f s", job.Rel, out.Clips, out.Seconds, time.Since(t0).Seconds()))
		}
	case errors.As(err, &ee):
		if last {
			log.Warn(fmt.Sprintf("unfinished on the last delivery: %s; the owner retries it later", ee.Cause))
			res := jobs.Result{Kind: jobs.KindUnfinished, Reason: ee.Cause, Delivered: delivered}
			if err := w.send(ctx, msg, job, &res); err != nil {
				// The owner did not hear: leave the job to run out of
				// deliveries, which the owner hears of in any case.
				msg.NakWithDelay(retryDelay(delivered))
				return
			}
			msg.Ack()
			return
		}
		delay := retryDelay(delivered)
		log.Warn(fmt.Sprintf("unfinished: %s; giving it back for a retry in %s", ee.Cause, delay))
		msg.NakWithDelay(delay)
	default:
		reason := err.Error()
		if last {
			log.Warn("failed on every delivery: " + reason)
			res := jobs.Result{Kind: jobs.KindFailed, Reason: reason, Delivered: delivered}
			if cerr := w.send(ctx, msg, job, &res); cerr != nil {
				msg.NakWithDelay(5 * time.Second)
				return
			}
			msg.DoubleAck(ctx)
			return
		}
		log.Warn(fmt.Sprintf("failed: %s; another delivery will try it (%d of %d)", reason, delivered, maxDeliv))
		res := jobs.Result{Kind: jobs.KindAttempt, Reason: reason, Delivered: delivered}
		w.publish(ctx, job, &res)
		msg.NakWithDelay(retryDelay(delivered))
	}
}

// retryDelay is the wait before the next delivery of a job that met a
// failure on its delivered-th.
func retryDelay(delivered int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < delivered && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// track books job as in hand (or no longer).
func (w *Worker) track(job jobs.Job, in bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if in {
		w.inHand[job.ID] = job
	} else {
		delete(w.inHand, job.ID)
	}
}

// shipping adds d to the time source's job spent putting blobs and
// shipping results, and returns the sum.
func (w *Worker) shipping(source string, d time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.shipped[source] += d
	return w.shipped[source]
}

func (w *Worker) forgetShipping(source string) {
	w.mu.Lock()
	delete(w.shipped, source)
	w.mu.Unlock()
}

// jobOf is the job in hand for source (a chunk's result names its video).
func (w *Worker) jobOf(source string) jobs.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, job := range w.inHand {
		if job.Source == source {
			return job
		}
	}
	return jobs.Job{Source: source}
}

// maxDeliveries is the deliveries a job gets, as the owner set up the
// queue (a serve restarted with another --max-deliver is seen within
// refreshEvery).
func (w *Worker) maxDeliveries() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxDeliv
}

// refreshEvery is how often a worker reads the consumer's settings again.
const refreshEvery = 30 * time.Second

// heartbeats publishes the worker's Heartbeat every few seconds, and reads
// the consumer's MaxDeliver again every refreshEvery.
func (w *Worker) heartbeats(ctx context.Context) {
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	refreshed := time.Now()
	for {
		w.beat()
		if time.Since(refreshed) >= refreshEvery {
			refreshed = time.Now()
			w.mu.Lock()
			cons := w.cons
			w.mu.Unlock()
			ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if info, err := cons.Info(ictx); err == nil {
				w.mu.Lock()
				w.maxDeliv = info.Config.MaxDeliver
				w.mu.Unlock()
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// HeartbeatEvery is how often a worker says it is alive.
const HeartbeatEvery = 2 * time.Second

func (w *Worker) beat() {
	w.mu.Lock()
	now := time.Now()
	i := 0
	for i < len(w.recent) && now.Sub(w.recent[i].at) > time.Minute {
		i++
	}
	w.recent = w.recent[i:]
	clips := 0
	for _, s := range w.recent {
		clips += s.clips
	}
	window := min(time.Minute, now.Sub(w.started)).Minutes()
	hb := jobs.Heartbeat{Name: w.cfg.Name, Host: w.host, PID: os.Getpid(), Device: w.device, Workers: w.cfg.Local.Workers,
		Started: w.started, Sent: now, Clips: w.clips, Finished: w.finished, Stopping: w.stopping, Jobs: []string{}}
	if window > 0 {
		hb.ClipsPerMinute = float64(clips) / window
	}
	for _, job := range w.inHand {
		hb.Jobs = append(hb.Jobs, job.Source)
	}
	w.mu.Unlock()
	slices.Sort(hb.Jobs)
	b, _ := json.Marshal(hb)
	w.cfg.Conn.Publish(w.q.HeartbeatSubject(), b)
}

// CrashEnv names the fault-injection point at which a worker kills itself
// with SIGKILL, for the tests of redelivery: "before-ack" (the owner has
// confirmed the job's last result, the job is not acked) or "after-chunk"
// (a chunk's result is in the results stream, not yet confirmed).
const CrashEnv = "CLIPFS_WORKER_CRASH"

func crashAt(point string) {
	if os.Getenv(CrashEnv) == point {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
