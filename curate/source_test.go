package curate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/s3store"
	"github.com/clipfs/clipfs/index/s3store/s3test"
)

// bucketVideos starts a server holding, under videos/, two small videos
// (one in a subfolder), a text file and a corrupt .mp4, and one video
// beside the folder; it returns the server and the folder.
func bucketVideos(t *testing.T) (*s3test.Server, *s3store.Folder, media.Tools) {
	t.Helper()
	tools := ffmpegTools(t)
	srv := s3test.Start(t)
	cl, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	video := func(name string, secs string) []byte {
		p := filepath.Join(t.TempDir(), name)
		out, err := exec.Command(tools.FFmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25",
			"-t", secs, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1", p).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg: %v %s", err, out)
		}
		b, _ := os.ReadFile(p)
		return b
	}
	for key, data := range map[string][]byte{
		"videos/a.mp4":          video("a.mp4", "3"),
		"videos/sub/b.MKV":      video("b.mkv", "2"),
		"videos/notes.txt":      []byte("not a video"),
		"videos/broken.mp4":     []byte("this is no mp4 at all, just bytes"),
		"videos-beside/c.mp4":   video("c.mp4", "1"),
		"videos/sub/deeper/x.y": []byte("x"),
	} {
		if _, err := cl.PutObject(context.Background(), srv.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := s3store.OpenFolder(context.Background(), srv.URI("videos")+"/", s3store.Options{
		Endpoint: srv.Endpoint, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, Region: srv.Region, Attempts: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, f, tools
}

// DiscoverBucket finds the videos below the folder, at any depth and by
// extension in any case, named by their s3:// URI and relative name; a
// server that is down is a fault of the machine naming the folder.
func TestDiscoverBucket(t *testing.T) {
	srv, f, _ := bucketVideos(t)
	videos, skipped, err := curate.DiscoverBucket(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 0 { // SeaweedFS folds a//b and a/./b: such keys (AWS has them) are not tested here
		t.Errorf("skipped %q", skipped)
	}
	var got []string
	for _, v := range videos {
		got = append(got, v.Rel+" "+v.Path)
		if v.Size <= 0 {
			t.Errorf("%s: size %d", v.Rel, v.Size)
		}
	}
	u := srv.URI("videos") + "/"
	if want := []string{"a.mp4 " + u + "a.mp4", "broken.mp4 " + u + "broken.mp4", "sub/b.MKV " + u + "sub/b.MKV"}; !slices.Equal(got, want) {
		t.Errorf("DiscoverBucket = %q\nwant %q", got, want)
	}
	srv.Stop()
	_, _, err = curate.DiscoverBucket(context.Background(), f)
	var ee *fault.EnvError
	if !errors.As(err, &ee) || ee.Path != u {
		t.Errorf("listing with the server down: %v, want an *fault.EnvError for %s", err, u)
	}
}

// Curating a bucket: ffmpeg reads the objects through presigned URLs; the
// records name each video by its s3:// URI and its name below the folder;
// a corrupt object fails alone in one line naming its URI and no URL; a
// second run is up to date, and a replaced object is curated again.
func TestRunBucket(t *testing.T) {
	srv, f, tools := bucketVideos(t)
	db, err := index.Open(filepath.Join(t.TempDir(), "db"), index.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := curate.Config{Bucket: f, Workers: 2, MinFree: 0}
	rep, err := curate.Run(context.Background(), db, tools, cfg)
	if !errors.Is(err, curate.ErrSomeFailed) || rep.Videos != 3 || rep.Curated != 2 || len(rep.Failed) != 1 || rep.Clips == 0 {
		t.Fatalf("Run = %+v, %v; want 2 of 3 curated, broken.mp4 failed", rep, err)
	}
	msg := rep.Failed[0].Error()
	if !strings.HasPrefix(msg, srv.URI("videos/broken.mp4")+": ") || strings.Contains(msg, "X-Amz") || strings.Contains(msg, "http") || strings.Contains(msg, "\n") {
		t.Errorf("the corrupt object's failure: %q, want one line naming its s3:// URI and no URL", msg)
	}
	var me *media.MediaError
	if !errors.As(rep.Failed[0], &me) {
		t.Errorf("the corrupt object's failure is not the input's: %#v", rep.Failed[0])
	}
	v, err := db.Video(srv.URI("videos/sub/b.MKV"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Rel != "sub/b.MKV" || v.NumTotalClips == 0 || !strings.Contains(v.Fingerprint, "etag=") || v.SourceMTime < time.Now().Add(-time.Hour).Unix() {
		t.Errorf("video record: rel %q, %d clips, fingerprint %q, mtime %d", v.Rel, v.NumTotalClips, v.Fingerprint, v.SourceMTime)
	}

	rep, _ = curate.Run(context.Background(), db, tools, cfg)
	if rep.UpToDate != 2 || rep.Curated != 0 {
		t.Errorf("second run: %+v, want the 2 curated videos up to date", rep)
	}

	cl, _ := srv.Client()
	shorter := func() []byte { // a.mp4 replaced by a one-second video
		p := filepath.Join(t.TempDir(), "a.mp4")
		if out, err := exec.Command(tools.FFmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25", "-t", "1",
			"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", p).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v %s", err, out)
		}
		b, _ := os.ReadFile(p)
		return b
	}()
	if _, err := cl.PutObject(context.Background(), srv.Bucket, "videos/a.mp4", bytes.NewReader(shorter), int64(len(shorter)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, _ = curate.Run(context.Background(), db, tools, cfg)
	if rep.Curated != 1 || rep.UpToDate != 1 {
		t.Errorf("after replacing a.mp4: %+v, want it curated again and b up to date", rep)
	}
	if a, err := db.Video(srv.URI("videos/a.mp4")); err != nil || a.Duration > 1.5 {
		t.Errorf("a.mp4 after its replacement: duration %v, %v; want the new 1 s video", a.Duration, err)
	}
}

// A presigned URL the server refuses (expired) and a server that cannot be
// reached are faults of the machine, told in one line that names the
// object's URI and not the URL; a missing object is the input's.
func TestRemoteSourceFaults(t *testing.T) {
	srv, f, tools := bucketVideos(t)
	ctx := context.Background()
	uri := f.URI("a.mp4")
	expired, err := f.Presign(ctx, "a.mp4", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	good, err := f.Presign(ctx, "a.mp4", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := tools.ProbeSource(ctx, media.Source{Name: uri, URL: good, Size: 1}); err != nil || info.NumFrames != 75 {
		t.Fatalf("probe through a presigned URL: %+v, %v", info, err)
	}
	if _, frames, err := tools.DetectCutsSource(ctx, media.Source{Name: uri, URL: good, Size: 1}, 96, 64, 27, 15); err != nil || frames != 75 {
		t.Fatalf("scene detection through a presigned URL: %d frames, %v", frames, err)
	}
	missing, _ := f.Presign(ctx, "gone.mp4", time.Hour)
	time.Sleep(2100 * time.Millisecond)
	dst := filepath.Join(t.TempDir(), "clip.mp4")
	check := func(what string, err error, env bool) {
		t.Helper()
		var ee *fault.EnvError
		var me *media.MediaError
		switch {
		case err == nil:
			t.Errorf("%s: no error", what)
		case env && !errors.As(err, &ee):
			t.Errorf("%s: %v, want a fault of the machine", what, err)
		case !env && (!errors.As(err, &me) || fault.Environmental(err)):
			t.Errorf("%s: %v, want the input's fault", what, err)
		case !strings.HasPrefix(err.Error(), uri+": ") || strings.Contains(err.Error(), "X-Amz") || strings.Contains(err.Error(), "127.0.0.1"):
			t.Errorf("%s: %q, want one line naming %s and no URL", what, err, uri)
		default:
			t.Logf("%s: %v", what, err)
		}
	}
	_, err = tools.ProbeSource(ctx, media.Source{Name: uri, URL: expired, Size: 1})
	check("probe, expired URL", err, true)
	check("transcode, expired URL", tools.TranscodeSource(ctx, media.Source{Name: uri, URL: expired, Size: 1}, 0, 1, dst), true)
	_, _, err = tools.DetectCutsSource(ctx, media.Source{Name: uri, URL: expired, Size: 1}, 96, 64, 27, 15)
	check("scene detection, expired URL", err, true)
	_, err = tools.ProbeSource(ctx, media.Source{Name: uri, URL: missing, Size: 1})
	check("probe, missing object", err, false)

	// Reads pinned to the ETag curation started from: an object replaced
	// meanwhile fails the tool, and is not mixed in.
	_, _, etag, err := f.Stat(ctx, "a.mp4")
	if err != nil {
		t.Fatal(err)
	}
	pinned := media.Source{Name: uri, URL: good, Size: 1, ETag: etag}
	if _, err := tools.ProbeSource(ctx, pinned); err != nil {
		t.Fatalf("probe pinned to the current ETag: %v", err)
	}
	cl, _ := srv.Client()
	if _, err := cl.CopyObject(ctx, minio.CopyDestOptions{Bucket: srv.Bucket, Object: "videos/a.mp4"},
		minio.CopySrcOptions{Bucket: srv.Bucket, Object: "videos-beside/c.mp4"}); err != nil {
		t.Fatal(err)
	}
	_, err = tools.ProbeSource(ctx, pinned)
	check("probe, object replaced since its HEAD", err, true)
	check("transcode, object replaced since its HEAD", tools.TranscodeSource(ctx, pinned, 0, 1, dst), true)
	srv.Stop()
	_, err = tools.ProbeSource(ctx, media.Source{Name: uri, URL: good, Size: 1})
	check("probe, server down", err, true)
	check("transcode, server down", tools.TranscodeSource(ctx, media.Source{Name: uri, URL: good, Size: 1}, 0, 1, dst), true)
}

// ffprobe and a transcode of two seconds of a one-minute, 25 MB object
// read a small part of it: they seek with range requests (the index at
// the end of the file, then the span), nothing is downloaded whole.
func TestRemoteSourceReadsRanges(t *testing.T) {
	tools := ffmpegTools(t)
	srv := s3test.Start(t)
	proxy := srv.Counter(t)
	p := filepath.Join(t.TempDir(), "long.mp4") // moov at the end, as most cameras write it
	if out, err := exec.Command(tools.FFmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "60",
		"-c:v", "mpeg4", "-q:v", "2", "-threads", "1", p).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	cl, _ := srv.Client()
	info, err := cl.FPutObject(context.Background(), srv.Bucket, "in/long.mp4", p, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := s3store.OpenFolder(context.Background(), srv.URI("in"), s3store.Options{
		Endpoint: proxy.Endpoint, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, Region: srv.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := func() media.Source {
		u, err := f.Presign(ctx, "long.mp4", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return media.Source{Name: f.URI("long.mp4"), URL: u, Size: info.Size}
	}
	vi, err := tools.ProbeSource(ctx, src())
	if err != nil || vi.NumFrames != 1500 {
		t.Fatalf("probe: %+v %v", vi, err)
	}
	probed := proxy.Reads("in/long.mp4")
	proxy.Reset()
	dst := filepath.Join(t.TempDir(), "clip.mp4")
	if err := tools.TranscodeSource(ctx, src(), 40, 42, dst); err != nil {
		t.Fatal(err)
	}
	cut := proxy.Reads("in/long.mp4")
	t.Logf("object %d bytes; probe: %d bytes in %d GETs, ranges %q; transcode of 40-42 s: %d bytes in %d GETs, ranges %q",
		info.Size, probed.Bytes, probed.GETs, probed.Ranges, cut.Bytes, cut.GETs, cut.Ranges)
	// Bytes sent are no measure of what ffmpeg read: each GET asks for the
	// rest of the object ("bytes=N-", as ffmpeg 5 does), and the socket
	// buffers take a few MB of it on loopback before ffmpeg closes the
	// connection. The ranges tell the seeks.
	seeksTo := func(rd s3test.Reads, from, to float64) bool {
		return slices.ContainsFunc(rd.Ranges, func(rg string) bool {
			var off int64
			_, err := fmt.Sscanf(rg, "bytes=%d-", &off)
			return err == nil && off >= int64(from*float64(info.Size)) && off <= int64(to*float64(info.Size))
		})
	}
	if rd := probed; rd.Ranged != rd.GETs || !seeksTo(rd, 0.95, 1) {
		t.Errorf("probe: %d of %d bytes in %d GETs, ranges %q; want ranged GETs only, one to the index at the end", rd.Bytes, info.Size, rd.GETs, rd.Ranges)
	}
	if rd := cut; rd.Ranged != rd.GETs || !seeksTo(rd, 0.6, 0.7) {
		t.Errorf("transcode: %d of %d bytes in %d GETs, ranges %q; want ranged GETs only, one to 40 s (2/3 in)", rd.Bytes, info.Size, rd.GETs, rd.Ranges)
	}
	if m, err := media.ProbeMP4(dst); err != nil || m.NumFrames < 49 || m.NumFrames > 51 {
		t.Errorf("the clip: %+v %v, want 50 frames", m, err)
	}
}

// ffmpegTools are the media tools; without ffmpeg a test skips, except in
// CI, which must have it.
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
