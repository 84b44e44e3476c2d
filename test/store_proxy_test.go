package test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// Network faults between clipfs and object storage, end to end: a
// Toxiproxy (s3test.Proxy, in the test's process) sits between every
// clipfs process and SeaweedFS, adding latency and resetting connections.

// useProxiedS3 starts a SeaweedFS with a proxy in front of it and points
// clipfs processes at the proxy.
func useProxiedS3(t *testing.T) (*s3test.Server, *s3test.Proxy) {
	t.Helper()
	srv := s3test.Start(t)
	px := srv.Proxy(t)
	for _, kv := range px.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return srv, px
}

// largestFile is the largest file under root/in, relative to root.
func largestFile(t *testing.T, root, in string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, in))
	if err != nil {
		t.Fatal(err)
	}
	best, size := "", int64(-1)
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Size() > size {
			best, size = filepath.Join(in, e.Name()), info.Size()
		}
	}
	if best == "" {
		t.Fatalf("no file in %s/%s", root, in)
	}
	return best
}

// TestObjectStorageThroughFaultyNetwork: with 200 ms of latency on every
// response, `clipfs curate --store` succeeds and check --read-data finds
// nothing wrong; `clipfs mount s3://` of it then serves every file
// (clips, metas, shards, index.parquet) byte for byte as the
// export of a local curate of the same videos has it, while every
// connection is reset once it has carried 128 KiB and a fifth of them
// before the request (the mount's log shows the cut reads it resumed). A second mount, cold, with every connection
// cut after 16 KiB (more than its retries get through), gives EIO for a
// clip and a shard, never short or wrong bytes, and the right bytes once
// the network is clean.
func TestObjectStorageThroughFaultyNetwork(t *testing.T) {
	needFUSE(t)
	videos := sampleVideos(t, true)
	srv, px := useProxiedS3(t)
	uri := srv.URI("slow")
	root := t.TempDir()
	mntA, mntB := filepath.Join(root, "mntA"), filepath.Join(root, "mntB")
	os.MkdirAll(mntA, 0o755)
	os.MkdirAll(mntB, 0o755)

	dbL := filepath.Join(root, "dbL")
	mustClipfs(t, 0, "curate", "--input", videos, "--db", dbL, "--workers", workers())
	want := exportTree(t, dbL, mntA)

	px.Latency(200*time.Millisecond, 0)
	dbS := filepath.Join(root, "dbS")
	start := time.Now()
	mustClipfs(t, 0, "curate", "--input", videos, "--db", dbS, "--store", uri, "--workers", workers())
	t.Logf("curate --store through 200 ms of latency: %s", time.Since(start).Round(time.Millisecond))
	wantHash := hashTree(t, want)
	start = time.Now()
	if r := mustClipfs(t, 0, "check", "--db", dbS, "--read-data"); !strings.Contains(r.stderr, " 0 problems") {
		t.Errorf("check through the latency:\n%s", r.stderr)
	}
	t.Logf("check --read-data through the latency: %s", time.Since(start).Round(time.Millisecond))

	a := mountWith(t, mntA, "mount", uri, mntA, "--cache-dir", filepath.Join(root, "cacheA"), "--cache-size", "1GiB", "--poll", "1s")
	b := mountWith(t, mntB, "mount", uri, mntB, "--cache-dir", filepath.Join(root, "cacheB"), "--cache-size", "1GiB", "--poll", "1s")
	px.CutAfter(128<<10, 1)
	px.Reset(0, 0.2)
	start = time.Now()
	sameTree(t, "s3 mount through latency and resets vs the export", wantHash, hashTree(t, mntA), nil)
	a.stop(t) // its log is complete
	resumed := strings.Count(a.stderr.String(), "read cut short")
	t.Logf("every file through latency and resets: %s; the mount resumed %d cut reads", time.Since(start).Round(time.Millisecond), resumed)
	if resumed == 0 {
		t.Errorf("the mount logged no cut read: the proxy injected no fault\n%s", a.stderr)
	}

	// Faults that outlast the retries: EIO, then the right bytes.
	px.Clear()
	px.CutAfter(16<<10, 1)
	files := []string{largestFile(t, want, "clips"), firstFile(t, want, "wds", ".tar")}
	for _, rel := range files {
		exp, err := os.ReadFile(filepath.Join(want, rel))
		if err != nil {
			t.Fatal(err)
		}
		got, took, err, msg := readThrough(t, filepath.Join(mntB, rel), 2*eioWithin)
		t.Logf("%s (%d bytes) with every connection cut after 16 KiB: %v after %s (%d bytes)", rel, len(exp), err, took.Round(time.Millisecond), len(got))
		switch {
		case err == nil && !bytes.Equal(got, exp):
			t.Errorf("%s read with every connection cut gave %d bytes that are not the export's %d", rel, len(got), len(exp))
		case err == nil:
			t.Errorf("%s read whole with every connection cut after 16 KiB", rel)
		case !strings.Contains(msg, "Input/output error"):
			t.Errorf("%s with every connection cut: %v %s, want EIO", rel, err, msg)
		case took > eioWithin:
			t.Errorf("%s: EIO only after %s, want within %s", rel, took, eioWithin)
		}
	}
	px.Clear()
	for _, rel := range files {
		exp, _ := os.ReadFile(filepath.Join(want, rel))
		got, took, err, msg := readThrough(t, filepath.Join(mntB, rel), 2*eioWithin)
		if err != nil || !bytes.Equal(got, exp) {
			t.Errorf("%s once the network is clean: %v %s (%d of %d bytes, %s)\n%s", rel, err, msg, len(got), len(exp), took, b.stderr)
		}
	}
}
