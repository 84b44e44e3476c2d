package test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// served is a running `clipfs serve`.
type served struct {
	cmd    *exec.Cmd
	db     string
	mnt    string
	stderr *syncBuffer
	done   chan struct{}
}

// syncBuffer is a bytes.Buffer safe to read while the process writes.
type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// serve starts clipfs serve on input/db at mnt and waits for its mount and
// control API. The test's end stops it (SIGTERM) unless the test did.
func serve(t *testing.T, input, db, mnt string, extra ...string) *served {
	t.Helper()
	needFUSE(t)
	needMedia(t)
	s := &served{db: db, mnt: mnt, stderr: newSyncBuffer(), done: make(chan struct{})}
	args := append([]string{"serve", "--input", input, "--db", db, "--mount", mnt, "--settle", "300ms", "--workers", "2"}, extra...)
	s.cmd = exec.Command(binPath, args...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	waitFor(t, 30*time.Second, "clipfs serve to mount and listen", func() bool {
		select {
		case <-s.done:
			t.Fatalf("clipfs serve exited early (%d): %s", s.cmd.ProcessState.ExitCode(), s.stderr)
		default:
		}
		var sj struct {
			PID int `json:"pid"`
		}
		b, err := os.ReadFile(filepath.Join(db, "serve.json"))
		return err == nil && json.Unmarshal(b, &sj) == nil && sj.PID == s.cmd.Process.Pid && isMounted(mnt)
	})
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.stop(t)
		}
		if isMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	return s
}

// serveDirs makes an empty input folder and mountpoint, and names a
// database folder, for serve.
func serveDirs(t *testing.T) (input, db, mnt string) {
	t.Helper()
	root := t.TempDir()
	input, db, mnt = filepath.Join(root, "in"), filepath.Join(root, "db"), filepath.Join(root, "mnt")
	os.MkdirAll(input, 0o755)
	os.MkdirAll(mnt, 0o755)
	return input, db, mnt
}

// stop sends SIGTERM and checks a clean exit: status 0, nothing mounted,
// no socket or serve.json left.
func (s *served) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("clipfs serve did not stop on SIGTERM: %s", s.stderr)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("clipfs serve exited %d after SIGTERM: %s", code, s.stderr)
	}
	if isMounted(s.mnt) {
		t.Errorf("%s still mounted after clipfs serve exited", s.mnt)
	}
	for _, f := range []string{"clipfs.sock", "serve.json"} {
		if _, err := os.Stat(filepath.Join(s.db, f)); err == nil {
			t.Errorf("%s left behind after a clean stop", f)
		}
	}
}

// kill stops the daemon with SIGKILL, as a crash would.
func (s *served) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// daemonStatus is what `clipfs status --json` prints (the fields tests read).
type daemonStatus struct {
	State    string `json:"state"`
	Idle     bool   `json:"idle"`
	Queued   int    `json:"queued"`
	Settling int    `json:"settling"`
	Totals   struct {
		Curated  int `json:"curated"`
		UpToDate int `json:"up_to_date"`
		Failed   int `json:"failed"`
		Clips    int `json:"clips"`
		Sealed   int `json:"shards_sealed"`
	} `json:"totals"`
	OpenShardSamples int    `json:"open_shard_samples"`
	Mount            string `json:"mount"`
	PID              int    `json:"pid"`
	Waiting          []struct {
		Path     string `json:"path"`
		Reason   string `json:"reason"`
		Attempts int    `json:"attempts"`
	} `json:"waiting"`
	DiskFull string `json:"disk_full"`
}

func statusOf(t *testing.T, db string, env ...string) daemonStatus {
	t.Helper()
	cmd := exec.Command(binPath, "status", "--db", db, "--json")
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clipfs status: %v\n%s", err, stderr.String())
	}
	var s daemonStatus
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("clipfs status --json: %v\n%s", err, out)
	}
	return s
}

// waitFor polls cond until it holds; it fails the test after limit (a
// generous bound for a loaded machine, not a speed check).
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitIdle waits until the daemon has handled n videos and has nothing left.
func waitIdle(t *testing.T, db string, n int) daemonStatus {
	t.Helper()
	var s daemonStatus
	waitFor(t, 3*time.Minute, fmt.Sprintf("%d videos curated", n), func() bool {
		s = statusOf(t, db)
		return s.Idle && s.Totals.Curated+s.Totals.UpToDate+s.Totals.Failed >= n
	})
	return s
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(dst), 0o755)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copySlowly writes src to dst in pieces with pauses, keeping it open, as a
// slow network copy does.
func copySlowly(t *testing.T, src, dst string, pieces int, pause time.Duration) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	step := (len(b) + pieces - 1) / pieces
	for off := 0; off < len(b); off += step {
		if _, err := f.Write(b[off:min(len(b), off+step)]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(pause)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("listing %s: %v", dir, err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestServeShowsNewVideosLive starts serve on an empty folder, copies videos
// in (one slowly, in pieces; a folder of them), and sees their clips, metas
// and video records appear in the mount while a reader holds files open; a
// sealed shard then appears and reads correctly, and status counts it all.
func TestServeShowsNewVideosLive(t *testing.T) {
	videos := sampleVideos(t, true)
	input, db, mnt := serveDirs(t)
	s := serve(t, input, db, mnt)
	if got := names(t, mnt); len(got) != 0 {
		t.Fatalf("empty input, mount shows %v", got)
	}

	// A first video: its clip and metas appear without a remount.
	copyFile(t, filepath.Join(videos, "clip_320x240_25fps_7s.mp4"), filepath.Join(input, "first.mp4"))
	var clip string
	waitFor(t, 2*time.Minute, "the first clip in clips/", func() bool {
		c := names(t, filepath.Join(mnt, "clips"))
		if len(c) > 0 {
			clip = c[0]
		}
		return len(c) > 0
	})
	id := strings.TrimSuffix(clip, ".mp4")
	waitFor(t, 30*time.Second, "its metas and video record", func() bool {
		_, e1 := os.Stat(filepath.Join(mnt, "metas", "v0", id+".json"))
		_, e2 := os.Stat(filepath.Join(mnt, "processed_videos", "first.mp4.json"))
		return e1 == nil && e2 == nil
	})
	// A reader holds the clip and its metas open from here on.
	held := map[string][]byte{}
	var heldFiles []*os.File
	for _, p := range []string{filepath.Join(mnt, "clips", clip), filepath.Join(mnt, "metas", "v0", id+".json")} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		heldFiles = append(heldFiles, f)
		b, err := io.ReadAll(f)
		if err != nil || len(b) == 0 {
			t.Fatalf("reading %s: %v (%d bytes)", p, err, len(b))
		}
		held[p] = b
	}

	// A slow copy in pieces: curated once, from the whole file.
	slow := filepath.Join(input, "slow.mp4")
	copySlowly(t, filepath.Join(videos, "a", "bars_320x240_2997fps_23s.mp4"), slow, 8, 400*time.Millisecond)
	// A folder of videos, nested.
	if out, err := exec.Command("cp", "-r", filepath.Join(videos, "a"), filepath.Join(input, "more")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	total := 2 + countVideos(t, filepath.Join(videos, "a"))
	st := waitIdle(t, db, total)
	if st.Totals.Curated != total || st.Totals.Failed != 0 || st.Totals.UpToDate != 0 {
		t.Errorf("status totals %+v, want %d curated once each and no failure:\n%s", st.Totals, total, s.stderr)
	}
	var slowMeta struct {
		Duration      float64 `json:"duration"`
		NumTotalClips int     `json:"num_total_clips"`
	}
	waitFor(t, 30*time.Second, "processed_videos/slow.mp4.json", func() bool {
		_, err := os.Stat(filepath.Join(mnt, "processed_videos", "slow.mp4.json"))
		return err == nil
	})
	readJSON(t, filepath.Join(mnt, "processed_videos", "slow.mp4.json"), &slowMeta)
	if slowMeta.Duration < 22.9 || slowMeta.NumTotalClips != 3 {
		t.Errorf("slowly copied video curated as %+v, want the whole 23 s in 3 clips", slowMeta)
	}
	for _, rel := range []string{"more/bars_320x240_2997fps_23s.mp4", "more/b/lossless_320x240_24fps_3s.mkv"} {
		if _, err := os.Stat(filepath.Join(mnt, "processed_videos", rel+".json")); err != nil {
			t.Errorf("nested video %s: %v", rel, err)
		}
	}
	// The mount follows commits asynchronously: give it a moment.
	var clips []string
	waitFor(t, 30*time.Second, fmt.Sprintf("clips/ to list the %d clips status counts", st.Totals.Clips), func() bool {
		clips = names(t, filepath.Join(mnt, "clips"))
		return len(clips) == st.Totals.Clips
	})
	if st.OpenShardSamples != len(clips) {
		t.Errorf("clips/ lists %d, status says %d open-shard samples", len(clips), st.OpenShardSamples)
	}
	for _, c := range clips {
		if _, err := os.Stat(filepath.Join(mnt, "metas", "v0", strings.TrimSuffix(c, ".mp4")+".json")); err != nil {
			t.Errorf("clip %s has no metas: %v", c, err)
		}
	}

	// The files held open still read the same bytes.
	for i, f := range heldFiles {
		b := make([]byte, len(held[f.Name()]))
		if _, err := f.ReadAt(b, 0); err != nil || !bytes.Equal(b, held[f.Name()]) {
			t.Errorf("file %d held open reads differently after curation went on (err %v)", i, err)
		}
		f.Close()
	}

	// Seal: the shard appears, reads as a tar with every clip, and its md5 is in shards.json.
	if _, err := os.Stat(filepath.Join(mnt, "wds")); err == nil {
		t.Fatalf("wds/ exists before any seal")
	}
	mustClipfs(t, 0, "seal", "--db", db)
	shard := filepath.Join(mnt, "wds", "shard-000000.tar")
	waitFor(t, 30*time.Second, "the sealed shard in wds/", func() bool { _, err := os.Stat(shard); return err == nil })
	raw, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	mp4s := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("shard: %v", err)
		}
		if strings.HasSuffix(h.Name, ".mp4") {
			mp4s++
		}
	}
	if mp4s != len(clips) {
		t.Errorf("shard holds %d clips, clips/ %d", mp4s, len(clips))
	}
	var index struct {
		Shardlist []struct {
			URL string `json:"url"`
			MD5 string `json:"md5sum"`
		} `json:"shardlist"`
	}
	sum := md5.Sum(raw)
	waitFor(t, 30*time.Second, "shards.json to list the shard with its md5", func() bool {
		readJSON(t, filepath.Join(mnt, "wds", "shards.json"), &index)
		return len(index.Shardlist) == 1 && index.Shardlist[0].MD5 == hex.EncodeToString(sum[:])
	})
	pyJSON(t, new(int), "import tarfile,sys; print(len(tarfile.open(sys.argv[1]).getnames()))", shard)
	if st := statusOf(t, db); st.Totals.Sealed != 1 || st.OpenShardSamples != 0 {
		t.Errorf("after seal: %d sealed, %d open samples", st.Totals.Sealed, st.OpenShardSamples)
	}
	s.stop(t)
}

// TestServeKill9ResumesToCleanTree kills serve with SIGKILL at random
// moments (several seeds), restarts it, and compares the final tree with a
// clean clipfs curate run's.
func TestServeKill9ResumesToCleanTree(t *testing.T) {
	videos := sampleVideos(t, true)
	clean := filepath.Join(t.TempDir(), "clean")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", clean, "--generate-previews", "--workers", "2")
	want := exportTree(t, clean, "/out")
	total := countVideos(t, videos)

	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			root := t.TempDir()
			db, mnt := filepath.Join(root, "db"), filepath.Join(root, "mnt")
			os.MkdirAll(mnt, 0o755)
			for range 3 {
				s := serve(t, videos, db, mnt, "--generate-previews", "--settle", "100ms")
				time.Sleep(time.Duration(200+rng.Intn(2500)) * time.Millisecond)
				s.kill()
			}
			s := serve(t, videos, db, mnt, "--generate-previews", "--settle", "100ms")
			waitIdle(t, db, total)
			mustClipfs(t, 0, "seal", "--db", db)
			s.stop(t)
			got := exportTree(t, db, "/out")
			if out, err := exec.Command("diff", "-r", want, got).CombinedOutput(); err != nil {
				t.Fatalf("tree after kills differs from a clean run:\n%s", out)
			}
			if blobs, media := countFiles(t, filepath.Join(db, "blobs")), servedMedia(t, got); blobs != media {
				t.Errorf("%d blob files, tree serves %d distinct blob-backed files", blobs, media)
			}
		})
	}
}

// TestServeControlAPI: the socket is private (0600); with a token set,
// requests without it are refused; submit, pause and resume work without
// watching; metrics count what happened; curate and mount refuse while the
// daemon runs.
func TestServeControlAPI(t *testing.T) {
	videos := sampleVideos(t, true)
	input, db, mnt := serveDirs(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	serve(t, input, db, mnt, "--watch=false", "--token-file", tokenFile)

	sock := filepath.Join(db, "clipfs.sock")
	st, err := os.Stat(sock)
	if err != nil || st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o600 {
		t.Fatalf("control socket %s: mode %v, err %v; want a socket with mode 0600", sock, st.Mode(), err)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", "http://clipfs"+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tok := range []string{"", "wrong"} {
		for _, path := range []string{"/v1/status", "/metrics"} {
			if code, _ := get(path, tok); code != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d, want 401", path, tok, code)
			}
		}
	}
	if code, _ := get("/v1/status", "s3cret"); code != http.StatusOK {
		t.Errorf("GET /v1/status with the token: %d", code)
	}
	if r := clipfs(t, "status", "--db", db); r.code != 1 || !strings.Contains(r.stderr, "token") {
		t.Errorf("status without the token: exit %d: %s", r.code, r.stderr)
	}
	env := "CLIPFS_TOKEN=s3cret"
	t.Setenv("CLIPFS_TOKEN", "s3cret") // for the clipfs runs below

	// curate and mount refuse, naming submit.
	r := clipfs(t, "curate", "--input", input, "--db", db)
	if r.code != 1 || !strings.Contains(r.stderr, "clipfs submit") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("curate while serve runs: exit %d, want 1 and one line pointing to clipfs submit: %s", r.code, r.stderr)
	}
	if r := clipfs(t, "mount", "--db", db, t.TempDir()); r.code != 1 || !strings.Contains(r.stderr, "clipfs serve") {
		t.Errorf("mount while serve runs: exit %d: %s", r.code, r.stderr)
	}

	// Without --watch a copied video waits for submit.
	a, b := filepath.Join(input, "a.mp4"), filepath.Join(input, "b.mp4")
	copyFile(t, filepath.Join(videos, "clip_320x240_25fps_7s.mp4"), a)
	copyFile(t, filepath.Join(videos, "a", "with spaces.webm"), b)
	time.Sleep(time.Second)
	if st := statusOf(t, db, env); st.Totals.Curated != 0 || st.Queued != 0 {
		t.Fatalf("not watching, yet curated %d / queued %d", st.Totals.Curated, st.Queued)
	}
	if r := clipfs(t, "submit", "--db", db, videos); r.code != 1 || !strings.Contains(r.stderr, "not under the input folder") {
		t.Errorf("submit outside the input: exit %d: %s", r.code, r.stderr)
	}
	mustClipfs(t, 0, "submit", "--db", db, a)
	waitIdle(t, db, 1)
	mustClipfs(t, 0, "pause", "--db", db)
	mustClipfs(t, 0, "submit", "--db", db, b)
	time.Sleep(time.Second)
	if st := statusOf(t, db, env); st.State != "paused" || st.Queued != 1 || st.Totals.Curated != 1 {
		t.Errorf("paused: state %s, %d queued, %d curated; want paused, 1, 1", st.State, st.Queued, st.Totals.Curated)
	}
	mustClipfs(t, 0, "resume", "--db", db)
	s2 := waitIdle(t, db, 2)
	if s2.Totals.Curated != 2 {
		t.Errorf("after resume: %+v", s2.Totals)
	}

	waitFor(t, 30*time.Second, "both clips in the mount", func() bool { return len(names(t, filepath.Join(mnt, "clips"))) == 2 })
	code, metrics := get("/metrics", "s3cret")
	if code != http.StatusOK {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{`clipfs_videos_total{result="curated"} 2`, "clipfs_clips_total 2",
		`clipfs_stage_duration_seconds_count{stage="transcode"} 2`, `clipfs_fuse_operations_total{op="lookup"}`,
		`clipfs_fuse_operation_duration_seconds_bucket{op="readdir`, "clipfs_queue_videos 0", "clipfs_paused 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestServeRetriesEnvironmentFaults: in serve, a video that a fault of the
// machine leaves unfinished (here a caption endpoint answering 503 through
// its retries) waits for a retry with backoff: status and the metrics show
// it as waiting, with the reason, and not as failed; once the endpoint is
// back the retry curates it, captions included.
func TestServeRetriesEnvironmentFaults(t *testing.T) {
	needNumpy(t)
	in, db := t.TempDir(), filepath.Join(t.TempDir(), "db")
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(mnt, 0o755)
	srv := newCaptionServer(t)
	srv.status = http.StatusServiceUnavailable
	srv.start()
	serve(t, in, db, mnt, "--captioning-endpoint", srv.URL+"/v1", "--caption-model", "vlm-test",
		"--caption-retries", "0", "--caption-timeout", "2s")
	copyTestVideo(t, filepath.Join(in, "v.mp4"))
	var st daemonStatus
	waitFor(t, time.Minute, "the video to wait for a retry", func() bool {
		st = statusOf(t, db)
		return len(st.Waiting) == 1
	})
	if w := st.Waiting[0]; !strings.Contains(w.Reason, "caption endpoint") || !strings.Contains(w.Reason, "503") || w.Attempts != 1 {
		t.Errorf("waiting %+v: want the caption endpoint's 503 as the reason, attempt 1", w)
	}
	if st.Totals.Failed != 0 || st.Totals.Clips != 0 {
		t.Errorf("status totals %+v: a waiting video is neither failed nor committed", st.Totals)
	}
	metrics, err := exec.Command("curl", "-s", "--unix-socket", filepath.Join(db, "clipfs.sock"), "http://clipfs/metrics").Output()
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	if !strings.Contains(string(metrics), "clipfs_waiting_videos{reason=") {
		t.Errorf("metrics lack clipfs_waiting_videos:\n%s", metrics)
	}
	if strings.Contains(string(metrics), `clipfs_videos_total{result="failed"} 1`) {
		t.Errorf("metrics count the waiting video as failed")
	}
	out, _ := exec.Command(binPath, "status", "--db", db).Output()
	if !strings.Contains(string(out), "waiting  ") || !strings.Contains(string(out), "1 waiting for a retry") {
		t.Errorf("clipfs status does not show the waiting video:\n%s", out)
	}
	srv.mu.Lock()
	srv.status = 0 // the endpoint is back
	srv.mu.Unlock()
	waitFor(t, time.Minute, "the retry to curate the video", func() bool {
		st = statusOf(t, db)
		return st.Totals.Curated == 1 && len(st.Waiting) == 0
	})
	metas, _ := filepath.Glob(filepath.Join(mnt, "metas", "v0", "*.json"))
	if len(metas) != 1 {
		t.Fatalf("%d metas in the mount after the retry, want 1", len(metas))
	}
	var meta sceneMeta
	readJSON(t, metas[0], &meta)
	if len(meta.Errors) != 0 || len(meta.Windows) != 1 || meta.Windows[0]["vlm-test_caption"] == nil {
		t.Errorf("after the retry: errors %v windows %v; want a captioned window and no errors", meta.Errors, meta.Windows)
	}
}

// TestServePausesForSpace: below --min-free, serve pauses taking videos
// (status names why) instead of filling the disk, and resumes once the
// database's filesystem has room again.
func TestServePausesForSpace(t *testing.T) {
	in := t.TempDir()
	disk := newSmallDisk(t, 64<<20)
	db := filepath.Join(disk.dir, "db")
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(mnt, 0o755)
	serve(t, in, db, mnt, "--min-free", "100MiB")
	copyTestVideo(t, filepath.Join(in, "v.mp4"))
	var st daemonStatus
	waitFor(t, time.Minute, "serve to pause for space", func() bool {
		st = statusOf(t, db)
		return st.DiskFull != "" && len(st.Waiting) == 1
	})
	if !strings.Contains(st.DiskFull, "below --min-free 100.0 MiB") || st.Totals.Failed != 0 {
		t.Errorf("status: disk_full %q, totals %+v; want the limit named and nothing failed", st.DiskFull, st.Totals)
	}
	disk.grow(t, 1<<30)
	waitFor(t, time.Minute, "serve to resume and curate the video", func() bool {
		st = statusOf(t, db)
		return st.DiskFull == "" && st.Totals.Curated == 1 && len(st.Waiting) == 0
	})
	if clips, _ := filepath.Glob(filepath.Join(mnt, "clips", "*.mp4")); len(clips) != 1 {
		t.Errorf("%d clips in the mount after resuming, want 1", len(clips))
	}
}

// TestServeNoStaleBytesAfterChange: a generated file (wds/shards.json)
// opened before a change and read after the kernel's invalidation keeps
// its own bytes, and must not leave them in the page cache for a later
// open: that one reads the new bytes.
func TestServeNoStaleBytesAfterChange(t *testing.T) {
	videos := sampleVideos(t, true)
	input, db, mnt := serveDirs(t)
	serve(t, input, db, mnt)
	index := filepath.Join(mnt, "wds", "shards.json")
	shardsIn := func(b []byte) int {
		var idx struct {
			Shardlist []json.RawMessage `json:"shardlist"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return -1
		}
		return len(idx.Shardlist)
	}
	addAndSeal := func(name string, n int) {
		copyFile(t, filepath.Join(videos, name), filepath.Join(input, name))
		waitIdle(t, db, n)
		mustClipfs(t, 0, "seal", "--db", db)
	}
	addAndSeal("clip_320x240_25fps_7s.mp4", 1)
	waitFor(t, 30*time.Second, "1 shard in shards.json", func() bool {
		b, err := os.ReadFile(index)
		return err == nil && shardsIn(b) == 1
	})
	st, err := os.Stat(index)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(index) // opened now, read only after the change
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	addAndSeal("old_320x240_25fps_3s.avi", 2)
	// the change shows in the attributes (no open: nothing read yet)
	waitFor(t, 30*time.Second, "shards.json to grow", func() bool {
		st2, err := os.Stat(index)
		return err == nil && st2.Size() > st.Size()
	})
	b, err := io.ReadAll(old) // may refill the page cache with the old bytes
	if err != nil || shardsIn(b) != 1 {
		t.Errorf("the handle opened before the change read %d shards (%v), want its own 1", shardsIn(b), err)
	}
	for range 3 {
		nb, err := os.ReadFile(index)
		if err != nil {
			t.Fatal(err)
		}
		if n := shardsIn(nb); n != 2 {
			t.Fatalf("a new open after the change read %d shards, want 2 (stale bytes from the page cache):\n%q", n, nb)
		}
	}
	if _, err := old.ReadAt(make([]byte, 16), 0); err != nil {
		t.Errorf("the old handle again: %v", err)
	}
	if nb, _ := os.ReadFile(index); shardsIn(nb) != 2 {
		t.Errorf("after the old handle read again, a new open read %q", nb)
	}
}

// copyTestVideo makes a 3 s test pattern video and copies it to dst, as a
// user's copy into a watched folder would.
func copyTestVideo(t *testing.T, dst string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), filepath.Base(dst))
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3", "-c:v", "libx264", "-preset", "ultrafast",
		"-threads", "1", src)
	copyFile(t, src, dst)
}
