package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/jobs"
	"github.com/clipfs/clipfs/index"
)

// Config configures a Dispatcher.
type Config struct {
	Conn  *nats.Conn
	Queue jobs.Queue
	DB    *index.DB
	// Curator is the owner's: it names and fingerprints videos and holds
	// the settings; the Dispatcher curates nothing through it.
	Curator *curate.Curator
	Recipe  curate.Recipe
	Sink    *curate.LocalSink // where results are committed
	Log     *slog.Logger
	// Lanes is how many results are committed at once (default 4); the
	// results of one video are committed in order, in one lane.
	Lanes int
}

// Dispatcher hands videos to the workers and commits what they send back.
// Its methods are safe for concurrent use.
type Dispatcher struct {
	cfg       Config
	q         jobs.Queue
	js        jetstream.JetStream
	stream    jetstream.Stream
	workers   jetstream.Consumer
	owner     jetstream.Consumer
	log       *slog.Logger
	events    jetstream.Consumer
	subs      []*nats.Subscription
	iters     []jetstream.MessagesContext
	closing   chan struct{}
	closeOnce sync.Once
	lanes     []chan received
	wg        sync.WaitGroup

	mu       sync.Mutex
	waiting  map[string]*waiter // source -> the Video call waiting for its job
	ended    map[string]ending  // source -> a job's end no Video call was waiting for
	attempts map[string]int     // source -> jobs published for it by this process
	reasons  map[string]attempt // source -> the last input failure a worker reported
	// committed is what the committed chunks of each video hold, until its job is done.
	committed map[string]curate.Outcome
	beats     map[string]jobs.Heartbeat
	failed    []jobs.FailedJob
	status    jobs.Status
}

// attempt is an input failure a worker reported on a delivery.
type attempt struct {
	reason    string
	delivered int
}

// jobsStream is the jobs stream (set up again if it had to be).
func (d *Dispatcher) jobsStream() jetstream.Stream {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stream
}

// ending is how a job ended.
type ending struct {
	kind    string  // jobs.KindDone, KindFailed or KindUnfinished
	took    float64 // KindDone: the worker's seconds
	outcome curate.Outcome
	reason  string
	fp      string
}

type waiter struct {
	fp        string
	ch        chan ending
	published time.Time
}

// keepFailed is how many failed jobs status lists.
const keepFailed = 20

// New sets up the queue (streams and consumers) and starts taking results.
func New(ctx context.Context, cfg Config) (*Dispatcher, error) {
	if cfg.Conn == nil || cfg.DB == nil || cfg.Curator == nil || cfg.Sink == nil {
		return nil, errors.New("dispatch: needs a NATS connection, a database, a curator and a sink")
	}
	q, err := cfg.Queue.Normalised()
	if err != nil {
		return nil, err
	}
	if cfg.Lanes <= 0 {
		cfg.Lanes = 4
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, err
	}
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, workers, owner, err := q.Setup(setup, js)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", cfg.Conn.ConnectedUrlRedacted(), err)
	}
	d := &Dispatcher{cfg: cfg, q: q, js: js, stream: stream, workers: workers, owner: owner.Results, events: owner.Events, log: cfg.Log,
		closing: make(chan struct{}),
		waiting: map[string]*waiter{}, ended: map[string]ending{}, attempts: map[string]int{}, reasons: map[string]attempt{}, committed: map[string]curate.Outcome{},
		beats: map[string]jobs.Heartbeat{}}
	for _, s := range []struct {
		subject string
		fn      nats.MsgHandler
	}{
		{q.VideoSubject(), d.videoState},
		{q.HeartbeatSubject(), d.heartbeat},
	} {
		sub, err := cfg.Conn.Subscribe(s.subject, s.fn)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.subs = append(d.subs, sub)
	}
	if err := cfg.Conn.Flush(); err != nil {
		d.Close()
		return nil, err
	}
	sweepStaging(filepath.Join(cfg.DB.Dir(), "workers"), cfg.Log)
	for range cfg.Lanes {
		ch := make(chan received, 8)
		d.lanes = append(d.lanes, ch)
		d.wg.Go(func() {
			for r := range ch {
				d.result(r)
			}
		})
	}
	d.wg.Go(func() {
		defer func() {
			for _, ch := range d.lanes {
				close(ch)
			}
		}()
		d.consume(func() jetstream.Consumer { return d.owner }, cfg.Lanes*8, d.toLane)
	})
	d.wg.Go(func() { d.consume(func() jetstream.Consumer { return d.events }, 8, d.exhausted) })
	return d, nil
}

// Close stops taking results (those in hand are committed first) and
// answering workers. Jobs and unconfirmed results stay in the streams.
func (d *Dispatcher) Close() {
	d.closeOnce.Do(func() {
		close(d.closing)
		for _, s := range d.subs {
			s.Unsubscribe()
		}
		d.mu.Lock()
		for _, it := range d.iters {
			it.Stop()
		}
		d.mu.Unlock()
	})
	d.wg.Wait()
}

// consume hands each message of a consumer to fn until Close. An iterator
// that stops for another reason (the consumer deleted or recreated by
// hand, say) is set up again, with the streams, after a pause: the owner
// never silently stops taking results.
func (d *Dispatcher) consume(cons func() jetstream.Consumer, batch int, fn func(jetstream.Msg)) {
	for {
		it, err := cons().Messages(jetstream.PullMaxMessages(batch))
		if err == nil {
			d.mu.Lock()
			select {
			case <-d.closing:
				d.mu.Unlock()
				it.Stop()
				return
			default:
			}
			d.iters = append(d.iters, it)
			d.mu.Unlock()
			for {
				m, err := it.Next()
				if err != nil {
					if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
						d.log.Warn("taking from the queue: " + err.Error())
						continue
					}
					break
				}
				fn(m)
			}
		}
		select {
		case <-d.closing:
			return
		case <-time.After(time.Second):
		}
		if err != nil {
			d.log.Warn("taking from the queue: " + err.Error() + "; setting it up again")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		stream, workers, owner, serr := d.q.Setup(ctx, d.js)
		cancel()
		if serr != nil {
			d.log.Warn("setting up the queue again: " + serr.Error())
			continue
		}
		d.mu.Lock()
		d.stream, d.workers, d.owner, d.events = stream, workers, owner.Results, owner.Events
		d.mu.Unlock()
	}
}

// received is a result message, decoded once.
type received struct {
	m   jetstream.Msg
	res jobs.Result
	err error // the message is not a result
}

// toLane decodes a result and hands it to the lane of its video.
func (d *Dispatcher) toLane(m jetstream.Msg) {
	res, err := jobs.DecodeResult(m.Headers(), m.Data())
	h := fnv.New32a()
	h.Write([]byte(res.Source))
	d.lanes[h.Sum32()%uint32(len(d.lanes))] <- received{m, res, err}
}

// sweepStaging removes what killed workers left in the staging folders
// beside a blobs folder (DB/workers/NAME): files a day old, which no live
// worker still makes.
func sweepStaging(dir string, log *slog.Logger) {
	n := 0
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 24*time.Hour && os.Remove(p) == nil {
			n++
		}
		return nil
	})
	if n > 0 {
		log.Info(fmt.Sprintf("removed %d files that stopped workers left in %s", n, dir))
	}
}

// Video curates sv through the workers: it publishes sv's job (unless
// sv is up to date) and waits until a worker finished it, it failed on
// every delivery (an error), or the environment left it unfinished (an
// *fault.EnvError, which the daemon retries). Cancelling ctx stops the
// wait; the job stays queued, and the restarted owner waits for it again.
//
// queued, if set, is called once the job is on the queue (or Video
// returns without queuing one).
func (d *Dispatcher) Video(ctx context.Context, sv curate.SourceVideo, queued func()) (curate.Outcome, error) {
	if queued == nil {
		queued = func() {}
	}
	defer queued()
	cur := d.cfg.Curator
	fp, err := cur.Fingerprint(ctx, sv)
	if err != nil {
		return curate.Outcome{}, err
	}
	if cur.UpToDate(sv, fp) {
		return curate.Outcome{UpToDate: true}, nil
	}
	w := &waiter{fp: fp, ch: make(chan ending, 1), published: time.Now()}
	d.mu.Lock()
	d.waiting[sv.Path] = w
	retry := d.attempts[sv.Path] > 0
	d.attempts[sv.Path]++
	e, early := d.ended[sv.Path]
	delete(d.ended, sv.Path)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		if d.waiting[sv.Path] == w {
			delete(d.waiting, sv.Path)
		}
		d.mu.Unlock()
	}()
	if early && e.fp == fp {
		return d.outcome(sv, e)
	}
	for {
		seq, err := d.publish(ctx, sv, fp, retry)
		if err != nil {
			return curate.Outcome{}, err
		}
		queued()
		out, err, lost := d.wait(ctx, sv, w, seq)
		if !lost {
			return out, err
		}
		// The job left the queue with no end that reached us (its end came
		// while the owner was down, say): queue it again, as a new job.
		d.log.Info("the job of " + sv.Path + " left the queue unfinished; queuing it again")
		retry = true
	}
}

// publish queues sv's job and returns its stream sequence. The job's ID is
// SOURCE|FINGERPRINT, so that rescans never queue it twice; a retry the
// owner chose gets a new ID. A duplicate whose first copy is gone from the
// queue (it ended, or ran out of deliveries while the owner was down) is
// queued again under a new ID.
func (d *Dispatcher) publish(ctx context.Context, sv curate.SourceVideo, fp string, retry bool) (uint64, error) {
	cur := d.cfg.Curator
	for {
		id := sv.Path + "|" + fp
		if retry {
			id += fmt.Sprintf("|retry %d", time.Now().UnixNano())
		}
		job := jobs.Job{ID: id, Source: sv.Path, Rel: sv.Rel, Input: cur.Input(), Size: sv.Size, Fingerprint: fp,
			Recipe: d.cfg.Recipe, Store: d.cfg.DB.BlobsURI(), Published: time.Now().UTC()}
		b, err := json.Marshal(job)
		if err != nil {
			return 0, err
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ack, err := d.js.Publish(pctx, d.q.JobsSubject(), b, jetstream.WithMsgID(id))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, &fault.EnvError{Path: sv.Path, Cause: "queue: " + err.Error(), Err: err}
		}
		if !ack.Duplicate {
			d.log.Debug("job queued", "video", sv.Path, "seq", ack.Sequence)
			return ack.Sequence, nil
		}
		if d.inQueue(ctx, ack.Sequence) {
			d.log.Debug("job already queued", "video", sv.Path, "seq", ack.Sequence)
			return ack.Sequence, nil
		}
		retry = true
	}
}

// inQueue reports whether the job at seq is still in the jobs stream (an
// error reading it counts as yes: only a sure absence requeues).
func (d *Dispatcher) inQueue(ctx context.Context, seq uint64) bool {
	gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := d.jobsStream().GetMsg(gctx, seq)
	return !errors.Is(err, jetstream.ErrMsgNotFound)
}

// wait waits for the end of the job at seq. lost is set when the job is
// gone from the queue and no end came for it, nor does the index show it.
func (d *Dispatcher) wait(ctx context.Context, sv curate.SourceVideo, w *waiter, seq uint64) (out curate.Outcome, err error, lost bool) {
	check := time.NewTicker(checkEvery)
	defer check.Stop()
	for {
		select {
		case e := <-w.ch:
			out, err = d.outcome(sv, e)
			return out, err, false
		case <-check.C:
			if d.cfg.Curator.UpToDate(sv, w.fp) {
				return curate.Outcome{}, nil, false
			}
			if d.inQueue(ctx, seq) {
				continue
			}
			select { // its end may have come meanwhile
			case e := <-w.ch:
				out, err = d.outcome(sv, e)
				return out, err, false
			default:
			}
			if d.cfg.Curator.UpToDate(sv, w.fp) {
				return curate.Outcome{}, nil, false
			}
			return curate.Outcome{}, nil, true
		case <-ctx.Done():
			return curate.Outcome{}, ctx.Err(), false
		}
	}
}

// checkEvery is how often a waiting Video checks that its job is still
// queued, or done in the index.
var checkEvery = 10 * time.Second

func (d *Dispatcher) outcome(sv curate.SourceVideo, e ending) (curate.Outcome, error) {
	switch e.kind {
	case jobs.KindDone:
		return e.outcome, nil
	case jobs.KindUnfinished:
		return curate.Outcome{}, &fault.EnvError{Path: sv.Path, Cause: e.reason}
	default:
		return curate.Outcome{}, errors.New(e.reason)
	}
}

// end hands a job's end to the Video call waiting for it, or keeps it for
// the next one (after a restart, results can come before the wait).
func (d *Dispatcher) end(source string, e ending) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.kind != jobs.KindDone {
		delete(d.committed, source)
	}
	if w := d.waiting[source]; w != nil && (w.fp == e.fp || e.fp == "") {
		if e.kind == jobs.KindDone {
			d.status.AddJob(time.Since(w.published).Seconds(), e.took)
		}
		select {
		case w.ch <- e:
		default:
		}
		return
	}
	d.ended[source] = e
}
