package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
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
	cfg     Config
	q       jobs.Queue
	js      jetstream.JetStream
	stream  jetstream.Stream
	workers jetstream.Consumer
	owner   jetstream.Consumer
	log     *slog.Logger
	subs    []*nats.Subscription
	iter    jetstream.MessagesContext
	lanes   []chan jetstream.Msg
	wg      sync.WaitGroup

	mu       sync.Mutex
	waiting  map[string]*waiter // source -> the Video call waiting for its job
	ended    map[string]ending  // source -> a job's end no Video call was waiting for
	attempts map[string]int     // source -> jobs published for it by this process
	reasons  map[string]string  // source -> last input failure a worker reported
	// committed is what the committed chunks of each video hold, until its job is done.
	committed map[string]curate.Outcome
	beats     map[string]jobs.Heartbeat
	failed    []jobs.FailedJob
	status    jobs.Status
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
	d := &Dispatcher{cfg: cfg, q: q, js: js, stream: stream, workers: workers, owner: owner, log: cfg.Log,
		waiting: map[string]*waiter{}, ended: map[string]ending{}, attempts: map[string]int{}, reasons: map[string]string{}, committed: map[string]curate.Outcome{},
		beats: map[string]jobs.Heartbeat{}}
	for _, s := range []struct {
		subject string
		fn      nats.MsgHandler
	}{
		{q.VideoSubject(), d.videoState},
		{q.HeartbeatSubject(), d.heartbeat},
		{q.MaxDeliveriesAdvisory(), d.exhausted},
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
	d.iter, err = owner.Messages(jetstream.PullMaxMessages(cfg.Lanes * 8))
	if err != nil {
		d.Close()
		return nil, err
	}
	for range cfg.Lanes {
		ch := make(chan jetstream.Msg, 8)
		d.lanes = append(d.lanes, ch)
		d.wg.Go(func() {
			for m := range ch {
				d.result(m)
			}
		})
	}
	d.wg.Go(d.take)
	return d, nil
}

// Close stops taking results (those in hand are committed first) and
// answering workers. Jobs and unconfirmed results stay in the streams.
func (d *Dispatcher) Close() {
	for _, s := range d.subs {
		s.Unsubscribe()
	}
	if d.iter != nil {
		d.iter.Stop()
	}
	d.wg.Wait()
}

// take hands each result to the lane of its video.
func (d *Dispatcher) take() {
	defer func() {
		for _, ch := range d.lanes {
			close(ch)
		}
	}()
	for {
		m, err := d.iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			d.log.Warn("taking results: " + err.Error())
			continue
		}
		var peek struct {
			Source string `json:"source"`
		}
		h := fnv.New32a()
		if m.Headers().Get("Content-Encoding") == "" && json.Unmarshal(m.Data(), &peek) == nil {
			h.Write([]byte(peek.Source))
		} else if res, err := jobs.DecodeResult(m.Headers(), m.Data()); err == nil {
			h.Write([]byte(res.Source))
		}
		d.lanes[h.Sum32()%uint32(len(d.lanes))] <- m
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
	n := d.attempts[sv.Path]
	d.attempts[sv.Path]++
	e, early := d.ended[sv.Path]
	delete(d.ended, sv.Path)
	d.mu.Unlock()
	if early && e.fp == fp {
		return d.outcome(sv, e)
	}
	defer func() {
		d.mu.Lock()
		if d.waiting[sv.Path] == w {
			delete(d.waiting, sv.Path)
		}
		d.mu.Unlock()
	}()
	id := sv.Path + "|" + fp
	if n > 0 {
		id += fmt.Sprintf("|retry %d", n) // a retry the owner chose is a new job
	}
	job := jobs.Job{ID: id, Source: sv.Path, Rel: sv.Rel, Input: cur.Input(), Size: sv.Size, Fingerprint: fp,
		Recipe: d.cfg.Recipe, Store: d.cfg.DB.BlobsURI(), Published: time.Now().UTC()}
	b, err := json.Marshal(job)
	if err != nil {
		return curate.Outcome{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ack, err := d.js.Publish(pctx, d.q.JobsSubject(), b, jetstream.WithMsgID(id))
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return curate.Outcome{}, ctx.Err()
		}
		return curate.Outcome{}, &fault.EnvError{Path: sv.Path, Cause: "queue: " + err.Error(), Err: err}
	}
	queued()
	if ack.Duplicate {
		d.log.Debug("job already queued", "video", sv.Path)
	} else {
		d.log.Debug("job queued", "video", sv.Path, "seq", ack.Sequence)
	}
	// A job queued before a restart may have ended while no one waited:
	// its end is in ended, or the index shows it.
	check := time.NewTicker(10 * time.Second)
	defer check.Stop()
	for {
		select {
		case e := <-w.ch:
			return d.outcome(sv, e)
		case <-check.C:
			if cur.UpToDate(sv, fp) {
				return curate.Outcome{}, nil
			}
		case <-ctx.Done():
			return curate.Outcome{}, ctx.Err()
		}
	}
}

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
