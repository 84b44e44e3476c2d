package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clipfs/clipfs/clipwriter"
	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/broker"
	"github.com/clipfs/clipfs/curate/dispatch"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/jobs"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/curate/worker"
	"github.com/clipfs/clipfs/index"
)

// rig is an owner (database, curator, dispatcher) on an embedded NATS
// server, with videos in its input folder.
type rig struct {
	t      *testing.T
	tools  media.Tools
	input  string
	store  string // JetStream's
	listen string
	srv    *broker.Server
	conn   *nats.Conn
	db     *index.DB
	cur    *curate.Curator
	cfg    curate.Config
	q      jobs.Queue
	d      *dispatch.Dispatcher
}

func ffmpegTools(t *testing.T) media.Tools {
	t.Helper()
	tools, err := media.DefaultTools()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs ffmpeg: %v", err)
		}
		t.Skip(err)
	}
	return tools
}

// video writes a test video of secs seconds at input/name.
func video(t *testing.T, tools media.Tools, path, secs string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	out, err := exec.Command(tools.FFmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25",
		"-t", secs, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
}

func newRig(t *testing.T, q jobs.Queue) *rig {
	t.Helper()
	r := &rig{t: t, tools: ffmpegTools(t), input: t.TempDir(), store: t.TempDir(), listen: "127.0.0.1:0"}
	var err error
	if r.q, err = q.Normalised(); err != nil {
		t.Fatal(err)
	}
	r.startServer()
	r.listen = r.srv.Addr() // a restart takes the same port
	if r.db, err = index.Open(t.TempDir(), index.Options{Create: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.db.Close() })
	r.cfg = curate.Config{Input: r.input, Workers: 2, MinFree: -1}
	if r.conn, err = jobs.Connect(r.srv.URL(), "owner", jobs.Auth{}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.conn.Close)
	r.owner(r.cfg)
	return r
}

// owner (re)starts the owner's dispatcher with cfg's settings, as a
// restarted serve would: the previous one is closed first.
func (r *rig) owner(cfg curate.Config) {
	r.t.Helper()
	if r.d != nil {
		r.d.Close()
	}
	var err error
	r.cfg = cfg
	if r.cur, err = curate.NewCurator(r.db, r.tools, cfg); err != nil {
		r.t.Fatal(err)
	}
	r.d, err = dispatch.New(context.Background(), dispatch.Config{Conn: r.conn, Queue: r.q, DB: r.db, Curator: r.cur,
		Recipe: curate.RecipeOf(cfg, curate.DefaultModelOptions(), nil), Sink: curate.NewLocalSink(r.db, -1, index.ShardLimits{})})
	if err != nil {
		r.t.Fatal(err)
	}
	d := r.d
	r.t.Cleanup(d.Close)
}

func (r *rig) startServer() {
	srv, err := broker.Start(broker.Options{Listen: r.listen, StoreDir: r.store})
	if err != nil {
		r.t.Fatal(err)
	}
	r.srv = srv
	r.t.Cleanup(srv.Shutdown)
}

// worker runs an in-process worker until the test ends.
func (r *rig) worker(name string) {
	r.t.Helper()
	nc, err := jobs.Connect(r.srv.URL(), name, jobs.Auth{}, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	w, err := worker.New(worker.Config{Conn: nc, Queue: r.q, Name: name, Tools: r.tools, Scratch: r.t.TempDir(),
		Local: curate.Local{Workers: 1, MinFree: -1}})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	r.t.Cleanup(func() { cancel(); <-done; nc.Close() })
}

func (r *rig) source(rel string) curate.SourceVideo {
	r.t.Helper()
	sv, err := r.cur.Source(filepath.Join(r.input, rel))
	if err != nil {
		r.t.Fatal(err)
	}
	return sv
}

// videos curates rels through the dispatcher at once and returns their
// outcomes and errors.
func (r *rig) videos(rels ...string) ([]curate.Outcome, []error) {
	outs, errs := make([]curate.Outcome, len(rels)), make([]error, len(rels))
	var wg sync.WaitGroup
	for i, rel := range rels {
		sv := r.source(rel)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			outs[i], errs[i] = r.d.Video(ctx, sv, nil)
		})
	}
	wg.Wait()
	return outs, errs
}

// clipsOf lists the metas of db's clips as clipwriter renders them,
// sorted: what two curations of the same videos must agree on.
func clipsOf(t *testing.T, db *index.DB) []string {
	t.Helper()
	var out []string
	err := db.Videos(func(v index.VideoRecord) error {
		for _, ref := range v.ChunksDone {
			ch, err := db.Chunk(ref.ID)
			if err != nil {
				return err
			}
			for _, id := range slices.Concat(ch.Clips, ch.Filtered) {
				c, err := db.Clip(id)
				if err != nil {
					return err
				}
				out = append(out, string(clipwriter.ClipJSON(c, "/out")))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestWorkersCurateAsLocally: two workers, one job taken by a worker that
// dies with it (it never acks nor heartbeats): every video ends curated
// once, with the clips a local run makes, and the dead worker's job is
// redelivered after AckWait.
func TestWorkersCurateAsLocally(t *testing.T) {
	r := newRig(t, jobs.Queue{AckWait: 2 * time.Second})
	rels := []string{"a.mp4", "sub/b.mp4", "c.mp4"}
	for i, rel := range rels {
		video(t, r.tools, filepath.Join(r.input, rel), []string{"12", "5", "23"}[i])
	}
	// The dead worker: it takes the first job and goes silent.
	js, _ := jetstream.New(r.conn)
	cons, err := js.Consumer(context.Background(), r.q.JobsStream(), jobs.WorkersConsumer)
	if err != nil {
		t.Fatal(err)
	}
	var (
		outs []curate.Outcome
		errs []error
		done = make(chan struct{})
	)
	go func() { outs, errs = r.videos(rels...); close(done) }()
	if _, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second)); err != nil {
		t.Fatalf("the dead worker took no job: %v", err)
	}
	r.worker("w1")
	r.worker("w2")
	<-done
	clips := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", rels[i], err)
		}
		clips += outs[i].Clips
	}
	if clips != 2+1+3 {
		t.Errorf("%d clips committed, want 6", clips)
	}
	local, err := index.Open(t.TempDir(), index.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if _, err := curate.Run(context.Background(), local, r.tools, r.cfg); err != nil {
		t.Fatal(err)
	}
	if got, want := clipsOf(t, r.db), clipsOf(t, local); !slices.Equal(got, want) {
		t.Errorf("the workers' clips differ from a local run's:\n got %d %q\nwant %d %q", len(got), got, len(want), want)
	}
	st := r.d.Status(context.Background())
	if st.Committed != 3 || st.Dropped != 0 || st.Redeliveries != 1 {
		t.Errorf("status: %d committed, %d dropped, %d redeliveries; want 3, 0, 1", st.Committed, st.Dropped, st.Redeliveries)
	}
	names := []string{}
	for _, w := range st.Workers {
		names = append(names, w.Name)
	}
	if !slices.Equal(names, []string{"w1", "w2"}) {
		t.Errorf("status names workers %q, want w1 and w2", names)
	}
	for _, sv := range []string{"a.mp4", "c.mp4"} { // up to date now: nothing queued
		out, err := r.d.Video(context.Background(), r.source(sv), nil)
		if err != nil || !out.UpToDate {
			t.Errorf("%s again: %+v %v, want up to date", sv, out, err)
		}
	}
}

// captureSink is a curate.Sink that does what a worker's does, put blobs
// into the owner's store, but keeps each ChunkResult instead of sending it,
// so that the test can send it as often as it likes.
type captureSink struct {
	store   *index.FolderStore
	scratch string
	mu      sync.Mutex
	results []*curate.ChunkResult
}

func (s *captureSink) Video(string) (index.VideoRecord, error) {
	return index.VideoRecord{}, index.ErrNotFound
}
func (s *captureSink) Stage(ext string) string { return filepath.Join(s.scratch, uuid.NewString()+ext) }
func (s *captureSink) Room() error             { return nil }
func (s *captureSink) Commit(ctx context.Context, res *curate.ChunkResult) error {
	for i := range res.Blobs {
		b := &res.Blobs[i]
		if err := s.store.Put(ctx, b.Name, b.Path); err != nil {
			return err
		}
		b.Stored, b.Path = true, ""
	}
	s.mu.Lock()
	s.results = append(s.results, res)
	s.mu.Unlock()
	return nil
}

// TestResultSentTwiceCommittedOnce sends the owner one chunk's result
// three times: twice the same message (a worker that crashed after sending
// and before its ack sends nothing new, but the stream redelivers what the
// owner did not ack), then the result of a second curation of the chunk
// (a redelivered job curated again, with new blob names). The chunk is
// committed once; the second curation's blobs leave the store, the
// first's stay and verify.
func TestResultSentTwiceCommittedOnce(t *testing.T) {
	r := newRig(t, jobs.Queue{})
	video(t, r.tools, filepath.Join(r.input, "a.mp4"), "12")
	sv := r.source("a.mp4")
	capture := func() *curate.ChunkResult {
		s := &captureSink{store: index.NewFolderStore(filepath.Join(r.db.Dir(), "blobs")), scratch: t.TempDir()}
		cfg := r.cfg
		cfg.Sink = s
		cur, err := curate.NewCurator(nil, r.tools, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cur.Video(context.Background(), sv); err != nil {
			t.Fatal(err)
		}
		if len(s.results) != 1 || len(s.results[0].Blobs) == 0 {
			t.Fatalf("%d results, want one chunk with blobs", len(s.results))
		}
		return s.results[0]
	}
	first, second := capture(), capture()
	if first.Blobs[0].Name == second.Blobs[0].Name {
		t.Fatal("two curations staged the same blob names")
	}
	js, _ := jetstream.New(r.conn)
	inbox := r.conn.NewRespInbox()
	confirms, err := r.conn.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	send := func(id string, chunk *curate.ChunkResult) jobs.Confirm {
		t.Helper()
		m, err := jobs.EncodeResult(r.q.ResultsSubject("w1"), &jobs.Result{ID: id, Kind: jobs.KindChunk, Source: sv.Path,
			Worker: "w1", Reply: inbox, Chunk: chunk})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		reply, err := confirms.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("no confirmation of %s: %v", id, err)
		}
		var c jobs.Confirm
		json.Unmarshal(reply.Data, &c)
		if c.ID != id || c.Error != "" {
			t.Fatalf("confirmation of %s: %+v", id, c)
		}
		return c
	}
	if c := send("r1", first); !c.Committed {
		t.Error("the first result was not committed")
	}
	if c := send("r1-again", first); c.Committed {
		t.Error("the same result sent again was committed again")
	}
	if c := send("r2", second); c.Committed {
		t.Error("a second curation of a committed chunk was committed")
	}
	want := len(first.Clips)
	if got := len(clipsOf(t, r.db)); got != want {
		t.Errorf("%d clips in the index, want %d", got, want)
	}
	for _, b := range first.Blobs {
		if err := r.db.VerifyBlob(b.Name); err != nil {
			t.Errorf("a committed blob: %v", err)
		}
	}
	for _, b := range second.Blobs {
		if _, err := r.db.OpenBlob(context.Background(), b.Name); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("blob %s of the dropped result: %v, want it removed", b.Name, err)
		}
	}
	if st := r.d.Status(context.Background()); st.Committed != 1 || st.Dropped != 2 {
		t.Errorf("status: %d committed, %d dropped; want 1 and 2", st.Committed, st.Dropped)
	}
	var problems []index.Problem
	if _, err := r.db.Check(context.Background(), index.CheckOptions{ReadData: true}, func(p index.Problem) { problems = append(problems, p) }); err != nil || len(problems) > 0 {
		t.Errorf("check: %v %v", err, problems)
	}
}

// TestJobFailsOnEveryDelivery: a file that is no video fails on each of
// its deliveries; it ends as failed, with the reason in status and in its
// processed_videos entry, and is not queued again until it changes.
func TestJobFailsOnEveryDelivery(t *testing.T) {
	r := newRig(t, jobs.Queue{MaxDeliver: 2})
	bad := filepath.Join(r.input, "bad.mp4")
	os.WriteFile(bad, []byte(strings.Repeat("not a video ", 1000)), 0o644)
	r.worker("w1")
	_, errs := r.videos("bad.mp4")
	var ee *fault.EnvError
	if errs[0] == nil || errors.As(errs[0], &ee) {
		t.Fatalf("a broken video: %v, want an input failure", errs[0])
	}
	v, err := r.db.Video(bad)
	if err != nil || v.Failure == "" || !strings.Contains(v.Failure, "bad.mp4") {
		t.Fatalf("stored record: %+v %v, want the failure", v, err)
	}
	var meta map[string]any
	if err := json.Unmarshal(clipwriter.VideoJSON(v), &meta); err != nil {
		t.Fatal(err)
	}
	if e, _ := meta["errors"].(map[string]any); e == nil || e["curate"] != v.Failure {
		t.Errorf("processed_videos entry: %v, want errors.curate", meta)
	}
	st := r.d.Status(context.Background())
	if len(st.Failed) != 1 || st.Failed[0].Source != bad || st.Failed[0].Reason != v.Failure || st.FailedAll != 1 {
		t.Errorf("status failed: %+v", st.Failed)
	}
	if out, err := r.d.Video(context.Background(), r.source("bad.mp4"), nil); err != nil || !out.UpToDate {
		t.Errorf("the failed video again: %+v %v, want it left alone until it changes", out, err)
	}
}

// TestNATSRestartLosesNoJob: jobs queued while no worker runs survive a
// restart of the embedded server (its file store), and are curated once a
// worker comes.
func TestNATSRestartLosesNoJob(t *testing.T) {
	r := newRig(t, jobs.Queue{})
	rels := []string{"a.mp4", "b.mp4"}
	for _, rel := range rels {
		video(t, r.tools, filepath.Join(r.input, rel), "3")
	}
	var errs []error
	done := make(chan struct{})
	go func() { _, errs = r.videos(rels...); close(done) }()
	r.waitJobs(2)
	r.srv.Shutdown()
	r.startServer()
	r.waitJobs(2)
	r.worker("w1")
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the jobs queued before the restart were not curated")
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", rels[i], err)
		}
	}
	if got := len(clipsOf(t, r.db)); got != 2 {
		t.Errorf("%d clips, want 2", got)
	}
}

// waitJobs waits until the jobs stream holds n messages.
func (r *rig) waitJobs(n uint64) {
	r.t.Helper()
	js, _ := jetstream.New(r.conn)
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var msgs uint64
		if s, err := js.Stream(ctx, r.q.JobsStream()); err == nil {
			if info, err := s.Info(ctx); err == nil {
				msgs = info.State.Msgs
			}
		}
		cancel()
		if msgs == n {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d jobs in the stream, want %d", msgs, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeliveriesRunOutWhileOwnerDown: the last delivery's worker dies
// while the owner is down; JetStream's advisory waits in the events stream,
// and the restarted owner ends the job unfinished (a fault of the
// workers, not the video's) instead of waiting for it for ever; the retry
// is a new job that a live worker finishes.
func TestDeliveriesRunOutWhileOwnerDown(t *testing.T) {
	r := newRig(t, jobs.Queue{AckWait: time.Second, MaxDeliver: 1})
	video(t, r.tools, filepath.Join(r.input, "a.mp4"), "3")
	ctx, cancel := context.WithCancel(context.Background())
	go r.d.Video(ctx, r.source("a.mp4"), nil)
	js, _ := jetstream.New(r.conn)
	cons, err := js.Consumer(context.Background(), r.q.JobsStream(), jobs.WorkersConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second)); err != nil { // the worker that dies with it
		t.Fatal(err)
	}
	cancel()
	r.d.Close() // the owner is down when the delivery runs out
	time.Sleep(3 * time.Second)
	r.owner(r.cfg)
	vctx, vcancel := context.WithTimeout(context.Background(), time.Minute)
	defer vcancel()
	_, err = r.d.Video(vctx, r.source("a.mp4"), nil)
	var ee *fault.EnvError
	if !errors.As(err, &ee) {
		t.Fatalf("the job that ran out of deliveries: %v, want it unfinished", err)
	}
	if v, err := r.db.Video(filepath.Join(r.input, "a.mp4")); err == nil && v.Failure != "" {
		t.Errorf("recorded as the video's failure: %q", v.Failure)
	}
	r.worker("w1")
	if out, err := r.d.Video(vctx, r.source("a.mp4"), nil); err != nil || out.Clips != 1 {
		t.Errorf("the retry: %+v %v, want 1 clip", out, err)
	}
}

// TestFileDiffersOnWorker: a worker that sees another file than the one
// queued (changed since, or a mount of other precision) gives the job
// back; after its last delivery the job is unfinished, never the video's
// failure.
func TestFileDiffersOnWorker(t *testing.T) {
	r := newRig(t, jobs.Queue{MaxDeliver: 2})
	p := filepath.Join(r.input, "a.mp4")
	video(t, r.tools, p, "3")
	var err error
	done := make(chan struct{})
	go func() { _, err = r.d.Video(context.Background(), r.source("a.mp4"), nil); close(done) }()
	r.waitJobs(1)
	later := time.Now().Add(time.Hour)
	os.Chtimes(p, later, later)
	r.worker("w1")
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("no end")
	}
	var ee *fault.EnvError
	if !errors.As(err, &ee) || !strings.Contains(ee.Cause, "differs from the one queued") {
		t.Fatalf("a job whose file changed: %v, want unfinished", err)
	}
	if _, err := r.db.Video(p); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("the video has a record: %v", err)
	}
}

// TestStaleSettingsDropped: a job queued before the owner restarted with
// other settings is dropped when its result comes, not committed over what
// the new settings make.
func TestStaleSettingsDropped(t *testing.T) {
	r := newRig(t, jobs.Queue{})
	p := filepath.Join(r.input, "a.mp4")
	video(t, r.tools, p, "12")
	ctx, cancel := context.WithCancel(context.Background())
	go r.d.Video(ctx, r.source("a.mp4"), nil)
	r.waitJobs(1)
	cancel()
	now := r.cfg
	now.Stride = plan.StrideParams{ClipLen: 5, Stride: 5, MinClipLen: 2}
	r.owner(now)
	r.worker("w1")
	r.waitJobs(0) // the worker took the old job and dropped it
	if _, err := r.db.Video(p); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("the stale job was committed: %v", err)
	}
	out, err := r.d.Video(context.Background(), r.source("a.mp4"), nil)
	if err != nil || out.Clips != 3 {
		t.Errorf("under the new settings: %+v %v, want 3 clips of 5 s", out, err)
	}
	n := 0
	filepath.WalkDir(filepath.Join(r.db.Dir(), "blobs"), func(p string, e os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".mp4") {
			n++
		}
		return nil
	})
	if n != 3 {
		t.Errorf("%d blobs in the store, want the 3 clips' (the stale job's removed)", n)
	}
}
