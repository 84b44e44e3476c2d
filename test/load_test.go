package test

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pyShardReader reads every shard named on stdin's lines with tarfile and
// groups members into samples by webdataset's rule (the key is the name up
// to the first dot of its base name; members of a sample are adjacent),
// checking each sample has its .mp4 and .json; it prints one line per shard:
// "ok SAMPLES" or "bad REASON". (The webdataset package itself is not
// installable here; this is its tar_file_expander + group_by_keys rule.)
const pyShardReader = `
import json, sys, tarfile
for line in sys.stdin:
    path = line.strip()
    try:
        samples, cur, key = 0, {}, None
        with tarfile.open(path) as tf:
            for m in tf:
                base = m.name.rsplit("/", 1)[-1]
                k, _, suffix = base.partition(".")
                data = tf.extractfile(m).read()
                if len(data) != m.size:
                    raise ValueError("short member %s" % m.name)
                if k != key:
                    if cur and not ("mp4" in cur and "json" in cur):
                        raise ValueError("sample %s lacks mp4 or json: %s" % (key, sorted(cur)))
                    if cur:
                        samples += 1
                    cur, key = {}, k
                cur[suffix] = data
                if suffix == "json":
                    json.loads(data)
        if cur:
            samples += 1
        print("ok", samples, flush=True)
    except Exception as e:
        print("bad", path, repr(e), flush=True)
`

// loadStats counts what the readers did.
type loadStats struct {
	requests atomic.Int64
	mu       sync.Mutex
	failures []string
}

func (s *loadStats) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 20 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

// TestServeUnderLoad: for a minute serve commits new videos (and seals
// shards) while sixteen readers hammer the mount: sequential shard reads,
// random 64 KiB reads of shards and clips, ls -l and find loops, metas
// opens, and Python's tarfile with webdataset's sample grouping over the
// shards. No request may fail, no read come back short, no metas file
// lack its clip; the process's peak RSS stays under 200 MiB.
func TestServeUnderLoad(t *testing.T) {
	needNumpy(t) // Debian's python3
	videos := sampleVideos(t, true)
	seconds := 60
	if s, err := strconv.Atoi(os.Getenv("CLIPFS_LOAD_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	input, db, mnt := serveDirs(t)
	srcs, _ := filepath.Glob(filepath.Join(videos, "*.mp4"))
	if len(srcs) == 0 {
		t.Fatal("no sample videos")
	}
	copyFile(t, srcs[0], filepath.Join(input, "start.mp4"))
	s := serve(t, input, db, mnt, "--workers", "1")
	waitIdle(t, db, 1)
	mustClipfs(t, 0, "seal", "--db", db)
	waitFor(t, 30*time.Second, "a first sealed shard", func() bool {
		m, _ := filepath.Glob(filepath.Join(mnt, "wds", "shard-*.tar"))
		return len(m) > 0
	})

	var st loadStats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	running := func() bool {
		select {
		case <-stop:
			return false
		default:
			return time.Now().Before(deadline)
		}
	}
	glob := func(pattern string) []string {
		m, err := filepath.Glob(filepath.Join(mnt, pattern))
		if err != nil {
			st.fail("glob %s: %v", pattern, err)
		}
		return m
	}

	// The writer: a new video every 2 s, a seal every 10 s.
	wg.Go(func() {
		for i := 0; running(); i++ {
			src := srcs[i%len(srcs)]
			dst := filepath.Join(input, fmt.Sprintf("load%03d%s", i, filepath.Ext(src)))
			if b, err := os.ReadFile(src); err == nil {
				os.WriteFile(dst+".part", b, 0o644)
				os.Rename(dst+".part", dst)
			}
			if i%5 == 4 {
				exec.Command(binPath, "seal", "--db", db).Run()
			}
			time.Sleep(2 * time.Second)
		}
	})
	// Peak RSS of the serving process.
	var peakKB atomic.Int64
	wg.Go(func() {
		for running() {
			if kb := rssKB(s.cmd.Process.Pid); kb > peakKB.Load() {
				peakKB.Store(kb)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	// 3 sequential shard readers (1 MiB reads, then a tar walk).
	for r := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			buf := make([]byte, 1<<20)
			for running() {
				shards := glob("wds/shard-*.tar")
				if len(shards) == 0 {
					continue
				}
				p := shards[rng.IntN(len(shards))]
				f, err := os.Open(p)
				if err != nil {
					st.fail("open %s: %v", p, err)
					continue
				}
				fi, _ := f.Stat()
				var total int64
				for {
					n, err := f.Read(buf)
					total += int64(n)
					st.requests.Add(1)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						st.fail("read %s: %v", p, err)
						break
					}
				}
				if total != fi.Size() {
					st.fail("%s: read %d bytes, stat says %d", p, total, fi.Size())
				}
				f.Seek(0, io.SeekStart)
				tr := tar.NewReader(bufio.NewReader(f))
				for {
					_, err := tr.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						st.fail("tar %s: %v", p, err)
						break
					}
				}
				f.Close()
			}
		})
	}
	// 3 random 64 KiB readers over shards and clips.
	for r := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 2))
			buf := make([]byte, 64<<10)
			for running() {
				files := append(glob("wds/shard-*.tar"), glob("clips/*.mp4")...)
				if len(files) == 0 {
					continue
				}
				p := files[rng.IntN(len(files))]
				f, err := os.Open(p)
				if err != nil {
					st.fail("open %s: %v", p, err)
					continue
				}
				fi, _ := f.Stat()
				for range 16 {
					if fi.Size() == 0 {
						break
					}
					off := rng.Int64N(fi.Size())
					n, err := f.ReadAt(buf, off)
					st.requests.Add(1)
					if want := min(int64(len(buf)), fi.Size()-off); int64(n) != want {
						st.fail("%s at %d: %d bytes (%v), want %d", p, off, n, err, want)
					}
				}
				f.Close()
			}
		})
	}
	// 2 ls -l loops and 2 find loops.
	for i := range 4 {
		wg.Go(func() {
			for running() {
				var cmd *exec.Cmd
				if i < 2 {
					cmd = exec.Command("ls", "-l", filepath.Join(mnt, "clips"), filepath.Join(mnt, "metas", "v0"))
				} else {
					cmd = exec.Command("find", mnt, "-printf", "%s %p\n")
				}
				out, err := cmd.CombinedOutput()
				st.requests.Add(1)
				if err != nil {
					st.fail("%s: %v\n%.300s", strings.Join(cmd.Args, " "), err, out)
				}
			}
		})
	}
	// 2 metas openers: each metas file parses, names itself, and has its clip.
	for r := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 3))
			for running() {
				metas := glob("metas/v0/*.json")
				if len(metas) == 0 {
					continue
				}
				p := metas[rng.IntN(len(metas))]
				b, err := os.ReadFile(p)
				st.requests.Add(1)
				var m struct {
					SpanUUID string `json:"span_uuid"`
				}
				if err != nil || json.Unmarshal(b, &m) != nil || m.SpanUUID+".json" != filepath.Base(p) {
					st.fail("metas %s: %v %.200q", p, err, b)
					continue
				}
				_, e1 := os.Stat(filepath.Join(mnt, "clips", m.SpanUUID+".mp4"))
				_, e2 := os.Stat(filepath.Join(mnt, "filtered_clips", m.SpanUUID+".mp4"))
				if e1 != nil && e2 != nil {
					st.fail("metas %s listed, but its clip is in neither clips/ nor filtered_clips/", p)
				}
			}
		})
	}
	// 2 Python readers: tarfile and webdataset's grouping over every shard.
	for range 2 {
		wg.Go(func() {
			for running() {
				shards := glob("wds/shard-*.tar")
				if len(shards) == 0 {
					continue
				}
				cmd := exec.Command(python, "-c", pyShardReader)
				cmd.Stdin = strings.NewReader(strings.Join(shards, "\n") + "\n")
				out, err := cmd.CombinedOutput()
				st.requests.Add(int64(len(shards)))
				if err != nil || strings.Contains(string(out), "bad") || strings.Count(string(out), "ok ") != len(shards) {
					st.fail("python tarfile/webdataset: %v\n%.500s", err, out)
				}
			}
		})
	}
	wg.Wait()
	close(stop)

	final := statusOf(t, db)
	t.Logf("%d s under load: %d requests served, %d videos curated, %d clips, %d shards sealed; peak RSS %.1f MiB",
		seconds, st.requests.Load(), final.Totals.Curated, final.Totals.Clips, final.Totals.Sealed, float64(peakKB.Load())/1024)
	for _, f := range st.failures {
		t.Error(f)
	}
	if final.Totals.Curated < 5 || final.Totals.Failed != 0 {
		t.Errorf("serve curated %d videos (%d failed) under load; want at least 5 and none failed", final.Totals.Curated, final.Totals.Failed)
	}
	if peakKB.Load() >= 200<<10 {
		t.Errorf("peak RSS %.1f MiB, want under 200 MiB", float64(peakKB.Load())/1024)
	}
}

// rssKB is a process's resident set in KiB (VmRSS), 0 if unknown.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
