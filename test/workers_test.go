package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// workerProc is a running `clipfs worker`.
type workerProc struct {
	name   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

// startWorker starts clipfs worker NAME on the NATS server at url; env is
// added to the test's environment (which holds the S3 settings). The
// test's end stops it.
func startWorker(t *testing.T, url, name string, env []string, extra ...string) *workerProc {
	t.Helper()
	w := &workerProc{name: name, stderr: newSyncBuffer(), done: make(chan struct{})}
	args := append([]string{"worker", "--nats", url, "--name", name, "--workers", "1", "--scratch", t.TempDir()}, extra...)
	w.cmd = exec.Command(binPath, args...)
	w.cmd.Env = append(os.Environ(), env...)
	w.cmd.Stderr = w.stderr
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			w.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-w.done:
			case <-time.After(30 * time.Second):
				w.cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("worker %s:\n%s", w.name, w.stderr)
		}
	})
	return w
}

// stop sends SIGTERM and checks a clean exit.
func (w *workerProc) stop(t *testing.T) {
	t.Helper()
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(60 * time.Second):
		w.cmd.Process.Kill()
		t.Fatalf("worker %s did not stop on SIGTERM:\n%s", w.name, w.stderr)
	}
	if code := w.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("worker %s exited %d after SIGTERM:\n%s", w.name, code, w.stderr)
	}
}

func (w *workerProc) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// jobsStatus is the "jobs" part of `clipfs status --json`.
type jobsStatus struct {
	Pending      int `json:"pending"`
	InHand       int `json:"in_hand"`
	Redeliveries int `json:"redeliveries"`
	Committed    int `json:"results_committed"`
	Dropped      int `json:"results_dropped"`
	FailedAll    int `json:"failed_total"`
	Workers      []struct {
		Name string `json:"name"`
		Lost bool   `json:"lost"`
	} `json:"workers"`
}

func jobsOf(t *testing.T, db string) jobsStatus {
	t.Helper()
	out, err := exec.Command(binPath, "status", "--db", db, "--json").Output()
	if err != nil {
		t.Fatalf("clipfs status: %v", err)
	}
	var s struct {
		Jobs *jobsStatus `json:"jobs"`
	}
	if err := json.Unmarshal(out, &s); err != nil || s.Jobs == nil {
		t.Fatalf("clipfs status --json has no jobs: %v\n%s", err, out)
	}
	return *s.Jobs
}

// workerVideos makes n videos of 640x360 for the workers' tests, long
// enough that a transcode can be caught in the act.
var workerVideos struct {
	once sync.Once
	dir  string
	err  error
}

func fourVideos(t *testing.T) string {
	t.Helper()
	needMedia(t)
	workerVideos.once.Do(func() {
		workerVideos.dir, workerVideos.err = os.MkdirTemp("", "clipfs-workers")
		for i, secs := range []int{34, 23, 17, 9} {
			out := filepath.Join(workerVideos.dir, fmt.Sprintf("v%d_%ds.mp4", i, secs))
			if i == 1 {
				out = filepath.Join(workerVideos.dir, "sub", "v1 with space.mp4")
				os.MkdirAll(filepath.Dir(out), 0o755)
			}
			cmd := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i",
				fmt.Sprintf("testsrc2=s=640x360:r=30:d=%d,noise=alls=%d:allf=t", secs, 10+5*i),
				"-c:v", "libx264", "-preset", "ultrafast", "-threads", "1", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				workerVideos.err = fmt.Errorf("ffmpeg: %v\n%s", err, b)
				return
			}
		}
	})
	if workerVideos.err != nil {
		t.Fatal(workerVideos.err)
	}
	return workerVideos.dir
}

// sameAsSingleMachine curates input with a single-machine clipfs curate
// and compares its export with db's (sameParts); it returns both exports.
func sameAsSingleMachine(t *testing.T, input, db, what string) (want, got string) {
	t.Helper()
	clean := filepath.Join(t.TempDir(), "clean")
	mustClipfs(t, 0, "curate", "--input", input, "--db", clean, "--workers", "2")
	want, got = exportTree(t, clean, "/out"), exportTree(t, db, "/out")
	sameParts(t, what, want, got)
	return want, got
}

// sameParts compares the parts of two exported trees that clips are made
// of (not shards or index.parquet, whose order is the commits'), byte for
// byte.
func sameParts(t *testing.T, what, want, got string) {
	t.Helper()
	for _, part := range []string{"clips", "metas", "processed_videos", "processed_clip_chunks"} {
		if out, err := exec.Command("diff", "-r", filepath.Join(want, part), filepath.Join(got, part)).CombinedOutput(); err != nil {
			t.Errorf("%s: %s/ differs from a single-machine curate:\n%s", what, part, out)
		}
	}
}

// TestWorkersEndToEnd: serve with the embedded NATS server, SeaweedFS as
// the store and no worker of its own; two worker processes; four videos
// copied into the input; one worker killed with SIGKILL while ffmpeg
// transcodes for it. Every video is curated once, the tree equals a
// single-machine curate byte for byte, and status names the workers.
func TestWorkersEndToEnd(t *testing.T) {
	videos := fourVideos(t)
	srv := useS3(t)
	input, db, mnt := serveDirs(t)
	addr := freePort(t)
	url := "nats://" + addr
	s := serve(t, input, db, mnt, "--store", srv.URI("workers"), "--nats-listen", addr, "--local-workers", "0", "--ack-wait", "6s")
	if !strings.Contains(s.stderr.String(), "handing videos to workers on "+url) {
		t.Errorf("serve does not say where workers connect:\n%s", s.stderr)
	}
	wa := startWorker(t, url, "wa", nil)
	wb := startWorker(t, url, "wb", nil)
	waitFor(t, time.Minute, "both workers' heartbeats", func() bool { return len(jobsOf(t, db).Workers) == 2 })
	entries, _ := os.ReadDir(videos)
	for _, e := range entries {
		if e.IsDir() {
			copyFile(t, filepath.Join(videos, e.Name(), "v1 with space.mp4"), filepath.Join(input, e.Name(), "v1 with space.mp4"))
		} else {
			copyFile(t, filepath.Join(videos, e.Name()), filepath.Join(input, e.Name()))
		}
	}
	// Kill whichever worker transcodes first, mid-transcode.
	var killed *workerProc
	waitFor(t, 2*time.Minute, "a worker's ffmpeg", func() bool {
		for _, w := range []*workerProc{wa, wb} {
			if len(childrenNamed(w.cmd.Process.Pid, "ffmpeg")) > 0 {
				w.cmd.Process.Signal(syscall.SIGKILL)
				killed = w
				return true
			}
		}
		return false
	})
	<-killed.done
	survivor := wa
	if killed == wa {
		survivor = wb
	}
	st := waitIdle(t, db, 4)
	if st.Totals.Curated != 4 || st.Totals.Failed != 0 {
		t.Errorf("serve: %d curated, %d failed; want 4 and 0", st.Totals.Curated, st.Totals.Failed)
	}
	js := jobsOf(t, db)
	out, err := exec.Command(binPath, "status", "--db", db).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"wa", "wb"} {
		if !strings.Contains(string(out), "worker   "+name+" on ") {
			t.Errorf("status does not name worker %s:\n%s", name, out)
		}
	}
	mustClipfs(t, 0, "seal", "--db", db)
	survivor.stop(t)
	s.stop(t)

	want, _ := sameAsSingleMachine(t, input, db, "workers' tree")
	chunks := countFiles(t, filepath.Join(want, "processed_clip_chunks"))
	if js.Committed != chunks {
		t.Errorf("%d chunk results committed for %d chunks (a chunk committed twice, or one missing)", js.Committed, chunks)
	}
	if r := mustClipfs(t, 0, "check", "--db", db, "--read-data"); !strings.Contains(r.stderr, " 0 problems") {
		t.Errorf("check after the workers:\n%s", r.stderr)
	}
}

// TestWorkerCrashesBeforeAck: a worker that dies after its result was
// sent (before the owner confirmed it, or after, but before it acked the
// job) has its job redelivered to another worker, and each chunk is
// committed once.
func TestWorkerCrashesBeforeAck(t *testing.T) {
	videos := fourVideos(t)
	for _, point := range []string{"after-chunk", "before-ack"} {
		t.Run(point, func(t *testing.T) {
			input, db, mnt := serveDirs(t)
			for _, name := range []string{"v2_17s.mp4", "v3_9s.mp4"} {
				copyFile(t, filepath.Join(videos, name), filepath.Join(input, name))
			}
			addr := freePort(t)
			url := "nats://" + addr
			s := serve(t, input, db, mnt, "--nats-listen", addr, "--local-workers", "0", "--ack-wait", "3s", "--watch=false")
			crasher := startWorker(t, url, "crasher", []string{"CLIPFS_WORKER_CRASH=" + point}, "--videos", "1")
			waitFor(t, 2*time.Minute, "the worker to crash at "+point, crasher.exited)
			if code := crasher.cmd.ProcessState.ExitCode(); code != -1 {
				t.Fatalf("the crashing worker exited %d, want killed:\n%s", code, crasher.stderr)
			}
			startWorker(t, url, "rescuer", nil)
			st := waitIdle(t, db, 2)
			if st.Totals.Curated != 2 {
				t.Errorf("%d videos curated, want 2", st.Totals.Curated)
			}
			js := jobsOf(t, db)
			if js.Redeliveries < 1 {
				t.Errorf("no job finished after a redelivery: %+v", js)
			}
			mustClipfs(t, 0, "seal", "--db", db)
			s.stop(t)
			want, got := sameAsSingleMachine(t, input, db, "after a crash at "+point)
			if chunks := countFiles(t, filepath.Join(want, "processed_clip_chunks")); js.Committed != chunks {
				t.Errorf("%d chunk results committed for %d chunks (%d dropped as sent twice)", js.Committed, chunks, js.Dropped)
			}
			if blobs, media := countFiles(t, filepath.Join(db, "blobs")), servedMedia(t, got); blobs != media {
				t.Errorf("%d blob files, the tree serves %d: a duplicate's blobs were left", blobs, media)
			}
		})
	}
}

// TestServeKill9WithWorkers: serve (and with it the embedded NATS server)
// stopped with SIGTERM, then killed with SIGKILL twice, at random moments
// while a worker curates, and restarted on the same port each time: the
// SIGTERM stop is clean, the worker reconnects, no job is lost, and the
// tree ends as a clean single-machine run's.
func TestServeKill9WithWorkers(t *testing.T) {
	videos := fourVideos(t)
	input, db, mnt := serveDirs(t)
	entries, _ := os.ReadDir(videos)
	for _, e := range entries {
		if !e.IsDir() {
			copyFile(t, filepath.Join(videos, e.Name()), filepath.Join(input, e.Name()))
		}
	}
	addr := freePort(t)
	url := "nats://" + addr
	args := []string{"--nats-listen", addr, "--local-workers", "0", "--ack-wait", "5s"}
	rng := rand.New(rand.NewSource(7))
	s := serve(t, input, db, mnt, args...)
	w := startWorker(t, url, "w1", nil)
	for i := range 3 {
		time.Sleep(time.Duration(1500+rng.Intn(2500)) * time.Millisecond)
		if i == 0 {
			s.stop(t) // SIGTERM with a job in hand on the worker: exit 0, unmounted, nothing left
		} else {
			s.kill()
		}
		if isMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		s = serve(t, input, db, mnt, args...)
	}
	waitIdle(t, db, 3)
	if w.exited() {
		t.Fatalf("the worker exited while serve restarted:\n%s", w.stderr)
	}
	mustClipfs(t, 0, "seal", "--db", db)
	w.stop(t)
	s.stop(t)
	sameAsSingleMachine(t, input, db, "after serve was stopped and killed")
	if r := mustClipfs(t, 0, "check", "--db", db, "--read-data"); !strings.Contains(r.stderr, " 0 problems") {
		t.Errorf("check:\n%s", r.stderr)
	}
	if !bytes.Contains([]byte(w.stderr.String()), []byte("reconnected")) {
		t.Errorf("the worker did not log a reconnection:\n%s", w.stderr)
	}
}
