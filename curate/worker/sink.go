package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/jobs"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/s3store"
)

// curatorEntry is a curator for one recipe, input and store, with the
// models it loaded: a worker loads them once, for every job that shares
// them.
type curatorEntry struct {
	cur    *curate.Curator
	models *curate.LoadedModels
}

// curatorFor is the curator for job's recipe, input folder and store. It
// is set up (models loaded, store opened) under loadMu, not mu, so that
// heartbeats and confirmations go on meanwhile; one that cannot be set up
// is refused again for refuseFor without another try.
func (w *Worker) curatorFor(ctx context.Context, job jobs.Job) (*curatorEntry, error) {
	key := job.Recipe.Settings + "\x00" + job.Input + "\x00" + job.Store
	w.loadMu.Lock()
	defer w.loadMu.Unlock()
	w.mu.Lock()
	e, r := w.curators[key], w.refused[key]
	w.mu.Unlock()
	if e != nil {
		return e, nil
	}
	if r.err != nil && time.Since(r.at) < refuseFor {
		return nil, r.err
	}
	e, err := w.newCurator(ctx, job)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.refused[key] = refusal{err, time.Now()}
		return nil, err
	}
	delete(w.refused, key)
	w.curators[key] = e
	return e, nil
}

func (w *Worker) newCurator(ctx context.Context, job jobs.Job) (*curatorEntry, error) {
	store, err := w.storeFor(ctx, job.Store)
	if err != nil {
		return nil, err
	}
	scratch := w.cfg.Scratch
	if dir, ok := strings.CutPrefix(job.Store, "file://"); ok {
		// Stage beside a blobs folder, so that putting a file is a rename:
		// in DB/workers/NAME, which the worker empties the first time it
		// uses it (not the owner's tmp/, which the owner empties when it
		// opens, under the feet of a worker that outlives a restart of
		// serve).
		scratch = filepath.Join(filepath.Dir(dir), "workers", jobs.Token(w.cfg.Name))
		if err := w.emptyOnce(scratch); err != nil {
			return nil, err
		}
	}
	cfg, models, err := job.Recipe.Config(job.Input, w.cfg.Local)
	if err != nil {
		return nil, err
	}
	if devs := models.Devices(); len(devs) > 0 {
		w.mu.Lock()
		w.device = strings.Join(slices.Compact(devs), ",") // heartbeats say where the models run
		w.mu.Unlock()
	}
	cfg.Log = w.log.With("input", job.Input)
	cfg.Sink = &sink{w: w, store: store, scratch: scratch, minFree: w.cfg.Local.MinFree}
	cur, err := curate.NewCurator(nil, w.cfg.Tools, cfg)
	if err != nil {
		models.Close()
		return nil, err
	}
	return &curatorEntry{cur: cur, models: models}, nil
}

// emptyOnce empties dir the first time this worker stages there.
func (w *Worker) emptyOnce(dir string) error {
	w.mu.Lock()
	done := w.emptied[dir]
	w.mu.Unlock()
	if done {
		return nil
	}
	if err := emptyFolder(dir); err != nil {
		return err
	}
	w.mu.Lock()
	w.emptied[dir] = true
	w.mu.Unlock()
	return nil
}

func (w *Worker) closeCurators() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, e := range w.curators {
		e.models.Close()
		delete(w.curators, k)
	}
}

func (w *Worker) storeFor(ctx context.Context, uri string) (index.BlobStore, error) {
	w.mu.Lock()
	st := w.stores[uri]
	w.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := w.cfg.OpenStore(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", uri, err)
	}
	w.mu.Lock()
	w.stores[uri] = st
	w.mu.Unlock()
	return st, nil
}

// OpenStore opens the blob store a job names: an object store (s3://,
// with the server and credentials of the environment, as clipfs's --store)
// or a blobs folder (file:///PATH) this machine sees.
func OpenStore(ctx context.Context, uri string) (index.BlobStore, error) {
	if dir, ok := strings.CutPrefix(uri, "file://"); ok {
		if !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("%s: not an absolute path", uri)
		}
		if st, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("%s: the blobs folder is not reachable from this machine: %w", uri, err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("%s: not a folder", uri)
		}
		return index.NewFolderStore(dir), nil
	}
	if strings.HasPrefix(uri, "s3://") {
		return s3store.Open(ctx, uri, s3store.Options{})
	}
	return nil, fmt.Errorf("%q is neither s3:// nor file://", uri)
}

// sink is curate.Sink for a worker: files are staged in its scratch
// folder, put into the owner's store, and the records shipped to the owner,
// who commits them.
type sink struct {
	w       *Worker
	store   index.BlobStore
	scratch string
	minFree int64
}

func (s *sink) Video(source string) (index.VideoRecord, error) {
	msg, err := s.w.cfg.Conn.Request(s.w.q.VideoSubject(), []byte(source), 10*time.Second)
	if err != nil {
		return index.VideoRecord{}, fmt.Errorf("%w: %v", jobs.ErrNoOwner, err)
	}
	var st jobs.VideoState
	if err := json.Unmarshal(msg.Data, &st); err != nil {
		return index.VideoRecord{}, err
	}
	if st.Error != "" {
		return index.VideoRecord{}, errors.New(st.Error)
	}
	if st.Video == nil {
		return index.VideoRecord{}, fmt.Errorf("%s: %w", source, index.ErrNotFound)
	}
	return *st.Video, nil
}

func (s *sink) Stage(ext string) string { return filepath.Join(s.scratch, uuid.NewString()+ext) }

func (s *sink) Room() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.scratch, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", s.scratch, err)
	}
	return fault.CheckRoom(st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize), s.scratch, s.minFree)
}

// Commit puts res's files into the store, four at a time, then sends the
// records to the owner and waits for its confirmation. Any failure is the
// environment's: the files put so far are left to the owner's sweep.
func (s *sink) Commit(ctx context.Context, res *curate.ChunkResult) error {
	t0 := time.Now()
	defer func() { s.w.shipping(res.Video.Source, time.Since(t0)) }()
	if err := s.putAll(ctx, res); err != nil {
		return &fault.EnvError{Path: res.Video.Source, Cause: "store: " + err.Error(), Err: err}
	}
	job := s.w.jobOf(res.Video.Source)
	r := jobs.Result{Kind: jobs.KindChunk, Chunk: res}
	if err := s.w.send(ctx, nil, job, &r); err != nil {
		return &fault.EnvError{Path: res.Video.Source, Cause: "index owner: " + err.Error(), Err: err}
	}
	return nil
}

func (s *sink) putAll(ctx context.Context, res *curate.ChunkResult) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		slots = make(chan struct{}, 4)
	)
	for i := range res.Blobs {
		b := &res.Blobs[i]
		if b.Stored {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			err := ctx.Err()
			if err == nil {
				err = s.store.Put(ctx, b.Name, b.Path)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("%s: %w", b.Name, err)
				}
				return
			}
			b.Stored, b.Path = true, ""
		})
	}
	wg.Wait()
	return first
}

// send publishes res for job to the results stream and waits for the
// owner's confirmation; msg, if set, is the job's message, heartbeated
// while waiting.
func (w *Worker) send(ctx context.Context, msg jetstream.Msg, job jobs.Job, res *jobs.Result) error {
	res.ID = uuid.NewString()
	ch := make(chan jobs.Confirm, 1)
	w.mu.Lock()
	w.waiters[res.ID] = ch
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.waiters, res.ID)
		w.mu.Unlock()
	}()
	if err := w.publish(ctx, job, res); err != nil {
		return err
	}
	if res.Kind == jobs.KindChunk {
		crashAt("after-chunk")
	}
	t := time.NewTimer(w.cfg.ConfirmWait)
	defer t.Stop()
	tick := time.NewTicker(max(w.q.AckWait/4, 200*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case c := <-ch:
			if c.Stale {
				return fmt.Errorf("%w: %s", errStale, c.Error)
			}
			if c.Error != "" {
				return errors.New(c.Error)
			}
			return nil
		case <-tick.C:
			if msg != nil {
				msg.InProgress()
			}
		case <-t.C:
			return fmt.Errorf("%w within %s", jobs.ErrNoOwner, w.cfg.ConfirmWait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// publish sends res to the results stream, durably (a JetStream ack).
func (w *Worker) publish(ctx context.Context, job jobs.Job, res *jobs.Result) error {
	res.Job, res.Source, res.Rel, res.Fingerprint = job.ID, job.Source, job.Rel, job.Fingerprint
	res.Worker, res.Reply = w.cfg.Name, w.inbox
	if res.Source == "" && res.Chunk != nil {
		res.Source = res.Chunk.Video.Source
	}
	m, err := jobs.EncodeResult(w.q.ResultsSubject(w.cfg.Name), res)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = w.js.PublishMsg(pctx, m, jetstream.WithMsgID(res.ID))
	return err
}

// confirmed hands a Confirm to the result waiting for it.
func (w *Worker) confirmed(m *nats.Msg) {
	var c jobs.Confirm
	if json.Unmarshal(m.Data, &c) != nil {
		return
	}
	w.mu.Lock()
	ch := w.waiters[c.ID]
	w.mu.Unlock()
	if ch != nil {
		select {
		case ch <- c:
		default:
		}
	}
}

// errStale is the owner's answer to a result of a job queued under
// settings it no longer curates with: the job is dropped, not retried.
var errStale = errors.New("stale job")

// emptyFolder makes dir an empty folder: what a killed worker of the same
// name left there is removed.
func emptyFolder(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
