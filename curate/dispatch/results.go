package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/jobs"
	"github.com/clipfs/clipfs/index"
)

// result takes one result message: commits it (once), confirms it to its
// worker and acks it. A result the owner cannot take is acked too, with
// the error in its Confirm: the worker gives its job back, and the
// redelivery curates what is missing.
func (d *Dispatcher) result(r received) {
	m, res, err := r.m, r.res, r.err
	if err != nil {
		d.log.Warn("a result that is not a clipfs result: " + err.Error())
		m.Term()
		return
	}
	c := jobs.Confirm{ID: res.ID}
	ctx := context.Background()
	if res.Fingerprint != "" && !strings.HasSuffix(res.Fingerprint, " "+d.cfg.Curator.Settings()) {
		// A job queued under settings the owner no longer curates with:
		// committing it would replace what these settings made.
		c.Error, c.Stale = "the job was queued under other settings than the owner's now; dropped", true
		for _, b := range resultBlobs(res) {
			d.cfg.DB.DiscardUnreferenced(b)
		}
		res.Kind = ""
	}
	switch res.Kind {
	case "":
	case jobs.KindChunk:
		if res.Chunk == nil {
			c.Error = "a chunk result without its chunk"
			break
		}
		committed, err := d.cfg.Sink.CommitOnce(ctx, res.Chunk)
		switch {
		case err != nil:
			c.Error = "commit: " + err.Error()
			d.log.Warn(fmt.Sprintf("%s: the result from %s was not committed: %v", res.Source, res.Worker, err))
		case committed:
			c.Committed = true
			d.count(func(s *jobs.Status) { s.Committed++ })
			d.tally(res.Source, res.Chunk)
		default:
			d.count(func(s *jobs.Status) { s.Dropped++ })
			d.log.Info(fmt.Sprintf("%s: a result from %s was committed before; dropped", res.Source, res.Worker))
		}
	case jobs.KindDone:
		v, err := d.cfg.DB.Video(res.Source)
		if err != nil || v.Fingerprint != res.Fingerprint || !v.Complete() {
			c.Error = "the index does not hold every chunk of the video yet"
			break
		}
		// The outcome is what was committed for the job, whichever worker
		// sent it: a redelivered job finds its chunks committed.
		d.mu.Lock()
		out := d.committed[res.Source]
		delete(d.committed, res.Source)
		d.mu.Unlock()
		if res.Delivered > 1 {
			d.count(func(s *jobs.Status) { s.Redeliveries++ })
		}
		d.end(res.Source, ending{kind: jobs.KindDone, outcome: out, fp: res.Fingerprint, took: res.Took})
	case jobs.KindFailed:
		if err := d.recordFailure(ctx, res.Source, res.Rel, res.Fingerprint, res.Reason); err != nil {
			c.Error = err.Error()
			break
		}
		d.end(res.Source, ending{kind: jobs.KindFailed, reason: res.Reason, fp: res.Fingerprint})
	case jobs.KindAttempt:
		d.mu.Lock()
		d.reasons[res.Source] = attempt{res.Reason, res.Delivered}
		d.mu.Unlock()
	case jobs.KindUnfinished:
		d.end(res.Source, ending{kind: jobs.KindUnfinished, reason: res.Reason, fp: res.Fingerprint})
	default:
		c.Error = fmt.Sprintf("unknown result kind %q", res.Kind)
	}
	if c.Stale {
		d.log.Info(fmt.Sprintf("%s: dropped a result from %s of a job queued under other settings", res.Source, res.Worker))
	}
	if res.Reply != "" {
		b, _ := json.Marshal(c)
		d.cfg.Conn.Publish(res.Reply, b)
	}
	if err := m.Ack(); err != nil {
		d.log.Warn("ack of a result: " + err.Error())
	}
}

// resultBlobs names the blobs a result put into the store.
func resultBlobs(res jobs.Result) []string {
	var names []string
	if res.Chunk != nil {
		for _, b := range res.Chunk.Blobs {
			if b.Stored {
				names = append(names, b.Name)
			}
		}
	}
	return names
}

// recordFailure commits the video as failed for good under fingerprint:
// its processed_videos entry carries the reason, and it is up to date
// until the file or the settings change. The failure is kept for status.
func (d *Dispatcher) recordFailure(ctx context.Context, source, rel, fp, reason string) error {
	v := index.VideoRecord{Source: source, Rel: rel, Fingerprint: fp, Failure: reason, CuratedAt: index.Now()}
	if _, err := d.cfg.Sink.CommitOnce(ctx, &curate.ChunkResult{Video: v}); err != nil {
		return fmt.Errorf("record the failure: %w", err)
	}
	d.mu.Lock()
	d.failed = append(d.failed, jobs.FailedJob{Source: source, Reason: reason, Time: time.Now()})
	if len(d.failed) > keepFailed {
		d.failed = d.failed[len(d.failed)-keepFailed:]
	}
	d.status.FailedAll++
	d.mu.Unlock()
	d.log.Warn(fmt.Sprintf("%s: failed on every delivery: %s", source, reason))
	return nil
}

// videoState answers a worker's question for a video's stored record.
func (d *Dispatcher) videoState(m *nats.Msg) {
	var st jobs.VideoState
	v, err := d.cfg.DB.Video(string(m.Data))
	switch {
	case err == nil:
		st.Video = &v
	case !errors.Is(err, index.ErrNotFound):
		st.Error = err.Error()
	}
	b, _ := json.Marshal(st)
	m.Respond(b)
}

// heartbeat keeps what a worker says of itself.
func (d *Dispatcher) heartbeat(m *nats.Msg) {
	var hb jobs.Heartbeat
	if json.Unmarshal(m.Data, &hb) != nil || hb.Name == "" {
		return
	}
	hb.Sent = time.Now() // our clock, not the worker's
	d.mu.Lock()
	d.beats[hb.Name] = hb
	d.mu.Unlock()
}

// exhausted takes JetStream's advisory of a job whose deliveries ran out
// without an ack (kept in the events stream until taken): the job is
// removed from the jobs stream and ends failed if its last delivery was
// reported as an input failure, and unfinished otherwise (each worker
// died, was stopped or gave it back: the owner retries it later as a new
// job), since the video's own fault was not what ended it.
func (d *Dispatcher) exhausted(m jetstream.Msg) {
	defer m.Ack()
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries int    `json:"deliveries"`
	}
	if json.Unmarshal(m.Data(), &adv) != nil || adv.StreamSeq == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream := d.jobsStream()
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return // taken care of already
	} else if err != nil {
		d.log.Warn(fmt.Sprintf("job %d ran out of deliveries, but cannot be read: %v", adv.StreamSeq, err))
		return
	}
	var job jobs.Job
	if json.Unmarshal(raw.Data, &job) != nil {
		return
	}
	stream.DeleteMsg(ctx, adv.StreamSeq)
	d.mu.Lock()
	last := d.reasons[job.Source]
	delete(d.reasons, job.Source)
	d.mu.Unlock()
	if last.reason != "" && last.delivered >= adv.Deliveries {
		reason := fmt.Sprintf("%s (%d deliveries)", last.reason, adv.Deliveries)
		if err := d.recordFailure(ctx, job.Source, job.Rel, job.Fingerprint, reason); err != nil {
			d.log.Warn(err.Error())
		}
		d.end(job.Source, ending{kind: jobs.KindFailed, reason: reason, fp: job.Fingerprint})
		return
	}
	why := fmt.Sprintf("no worker finished it in %d deliveries (each died, was stopped or went silent)", adv.Deliveries)
	d.log.Warn(job.Source + ": " + why)
	d.end(job.Source, ending{kind: jobs.KindUnfinished, reason: why, fp: job.Fingerprint})
}

// tally adds a committed chunk to its video's outcome.
func (d *Dispatcher) tally(source string, res *curate.ChunkResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.committed[source]
	for _, c := range res.Clips {
		out.Clips++
		out.Seconds += c.Span[1] - c.Span[0]
		if c.Stored() {
			out.Bytes += c.Media.NumBytes
		}
	}
	d.committed[source] = out
}

func (d *Dispatcher) count(fn func(*jobs.Status)) {
	d.mu.Lock()
	fn(&d.status)
	d.mu.Unlock()
}

// Lost is how long a worker may stay silent before status calls it lost.
const Lost = 15 * time.Second

// forgetAfter is how long a lost worker stays in status.
const forgetAfter = 10 * time.Minute

// Status is the queue and the workers as the owner sees them now.
func (d *Dispatcher) Status(ctx context.Context) jobs.Status {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	d.mu.Lock()
	workers := d.workers
	d.mu.Unlock()
	info, err := workers.Info(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.status
	s.Queue, s.Server = d.q.JobsStream(), d.cfg.Conn.ConnectedUrlRedacted()
	if err != nil {
		s.Error = err.Error()
	} else {
		s.Pending, s.InHand, s.Redelivered = int(info.NumPending), info.NumAckPending, info.NumRedelivered
	}
	now := time.Now()
	s.Workers = []jobs.WorkerStatus{}
	for name, hb := range d.beats {
		silent := now.Sub(hb.Sent)
		if silent > forgetAfter {
			delete(d.beats, name)
			continue
		}
		s.Workers = append(s.Workers, jobs.WorkerStatus{Heartbeat: hb, Silent: silent.Seconds(), Lost: silent > Lost})
	}
	slices.SortFunc(s.Workers, func(a, b jobs.WorkerStatus) int { return strings.Compare(a.Name, b.Name) })
	s.Failed = slices.Clone(d.failed)
	if s.Failed == nil {
		s.Failed = []jobs.FailedJob{}
	}
	return s
}
