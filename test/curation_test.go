package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// scenePart is one shot of a generated video: a lavfi source shown for
// Frames frames.
type scenePart struct {
	Source string // lavfi source and filters, without size and rate
	Frames int
}

// The shots of sceneVideo, at 25 fps and 384x256 (motion needs >= 256 on
// both sides). Scrolling patterns move everywhere (motion vectors in every
// block); a colour field does not move at all.
var sceneParts = []scenePart{
	{"testsrc2=s=384x256:r=25,scroll=h=0.004:v=0.006", 100},
	{"color=c=0x2a6fb0:s=384x256:r=25", 90},
	{"smptehdbars=s=384x256:r=25,scroll=h=-0.01", 110},
	{"mandelbrot=s=384x256:r=25,scroll=v=0.008", 80},
}

// makeSceneVideo writes the parts one after another (hard cuts) to path,
// H.264 at 25 fps, and returns the frame numbers where shots start.
func makeSceneVideo(t *testing.T, path string, parts []scenePart) []int {
	t.Helper()
	var graph, labels []string
	var cuts []int
	at := 0
	for i, p := range parts {
		graph = append(graph, fmt.Sprintf("%s,trim=end_frame=%d,setpts=PTS-STARTPTS,format=yuv420p,setsar=1[p%d]", p.Source, p.Frames, i))
		labels = append(labels, fmt.Sprintf("[p%d]", i))
		if i > 0 {
			cuts = append(cuts, at)
		}
		at += p.Frames
	}
	fc := strings.Join(graph, ";") + ";" + strings.Join(labels, "") + fmt.Sprintf("concat=n=%d:v=1:a=0[v]", len(parts))
	ffmpeg(t, "-filter_complex", fc, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23",
		"-r", "25", "-threads", "1", path)
	return cuts
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// nemoScenes is NeMo's scene post-processing (docs/formats.md §6), written out
// again so the test does not trust curate's copy (nemoFilter), of the scenes
// between cuts; lengths in frames.
func nemoScenes(cuts []int, frames, minLen, maxLen, crop int) [][2]int {
	bounds := append(append([]int{0}, cuts...), frames)
	var scenes [][2]int
	for i := 0; i+1 < len(bounds); i++ {
		scenes = append(scenes, [2]int{bounds[i], bounds[i+1]})
	}
	return nemoFilter(scenes, minLen, maxLen, crop)
}

func spanID(source string, s [2]int) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprintf("%s_%d_%d", source, s[0], s[1]))).String()
}

// captionServer speaks OpenAI's chat-completions protocol: a vision model
// answers with a digest of the images it was sent, a text model rewrites.
// It records every request so the test can check what curation sent.
type captionServer struct {
	*httptest.Server
	mu      sync.Mutex
	vision  []visionRequest
	text    []string // user texts sent to the text model
	answers map[string]bool
	status  int           // answer every request with this HTTP status (0: 200)
	flap    bool          // answer every other request 503
	delay   time.Duration // before answering
	count   int           // requests received
}

type visionRequest struct {
	Model, Prompt string
	Images        int
	MaxSide       int
}

func newCaptionServer(t *testing.T) *captionServer {
	s := &captionServer{answers: map[string]bool{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.count++
		refuse := s.flap && s.count%2 == 1
		status := s.status
		s.mu.Unlock()
		if refuse {
			http.Error(w, `{"error": {"message": "overloaded, try again"}}`, http.StatusServiceUnavailable)
			return
		}
		if s.delay > 0 {
			select {
			case <-time.After(s.delay):
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			http.Error(w, `{"error": {"message": "model is overloaded"}}`, status)
			return
		}
		answer, err := s.answer(r)
		if err != nil {
			t.Errorf("caption request: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{
			"index": 0, "message": map[string]any{"role": "assistant", "content": answer}, "finish_reason": "stop"}}})
	}))
	t.Cleanup(s.Close)
	return s
}

// start starts the server once its status and delay are set.
func (s *captionServer) start() *captionServer {
	s.Start()
	return s
}

func (s *captionServer) answer(r *http.Request) (string, error) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		return "", fmt.Errorf("%s %s", r.Method, r.URL.Path)
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return "", err
	}
	last := req.Messages[len(req.Messages)-1]
	var text string
	if json.Unmarshal(last.Content, &text) == nil { // text model
		s.mu.Lock()
		defer s.mu.Unlock()
		s.text = append(s.text, text)
		return "Enhanced: " + text, nil
	}
	var parts []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	if err := json.Unmarshal(last.Content, &parts); err != nil {
		return "", fmt.Errorf("content is neither text nor parts: %v", err)
	}
	vr := visionRequest{Model: req.Model}
	h := sha256.New()
	for _, p := range parts {
		switch p.Type {
		case "text":
			vr.Prompt += p.Text
		case "image_url":
			b64, ok := strings.CutPrefix(p.ImageURL.URL, "data:image/jpeg;base64,")
			if !ok {
				return "", fmt.Errorf("image url %.40q is not a base64 JPEG", p.ImageURL.URL)
			}
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return "", err
			}
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(raw))
			if err != nil {
				return "", fmt.Errorf("image %d: %v", vr.Images, err)
			}
			vr.MaxSide = max(vr.MaxSide, cfg.Width, cfg.Height)
			vr.Images++
			h.Write(raw)
		}
	}
	answer := fmt.Sprintf("A test pattern, %d frames, digest %s.", vr.Images, hex.EncodeToString(h.Sum(nil))[:12])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vision = append(s.vision, vr)
	s.answers[answer] = true
	return answer, nil
}

// sceneMeta is the part of a metas file these tests read.
type sceneMeta struct {
	SpanUUID     string     `json:"span_uuid"`
	DurationSpan [2]float64 `json:"duration_span"`
	ClipLocation string     `json:"clip_location"`
	NumFrames    int        `json:"num_frames"`
	Motion       *struct {
		GlobalMean     float64 `json:"global_mean"`
		PerPatchMin256 float64 `json:"per_patch_min_256"`
	} `json:"motion_score"`
	Errors  []string         `json:"errors"`
	Windows []map[string]any `json:"windows"`
	Valid   bool             `json:"valid"`
}

// checkCounters runs check_counters.py over a tree, fails on every problem
// it reports and returns the counters summed over all chunks ("chunks":
// how many). args: "--motion", GM, PP and/or "--aesthetic", T.
func checkCounters(t *testing.T, root string, args ...string) map[string]int {
	t.Helper()
	var rep struct {
		Problems []string       `json:"problems"`
		Totals   map[string]int `json:"totals"`
	}
	runPy(t, &rep, filepath.Join(repoRoot, "test", "check_counters.py"), append([]string{root}, args...)...)
	for _, p := range rep.Problems {
		t.Error("check_counters: " + p)
	}
	if rep.Totals["chunks"] == 0 {
		t.Errorf("check_counters: no processed_clip_chunks under %s", root)
	}
	return rep.Totals
}

var motionThresholds = []string{"--motion", "0.00098", "0.000001"}

func runPy(t *testing.T, v any, script string, args ...string) {
	t.Helper()
	cmd := exec.Command(python, append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(script), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s output: %v\n%s", filepath.Base(script), err, out)
	}
}

// TestScenesMotionCaptions curates a video of four shots (one of them a
// still colour field) and a video too small for motion scoring, with scene
// splitting, the motion filter, captions and enhanced captions from a local
// chat-completions server, and previews; then checks the mounted tree: the
// clips NeMo's scene rules give, the still shot and the small video in
// filtered_clips/, the captions in metas, chunk counters and shards.
func TestScenesMotionCaptions(t *testing.T) {
	needNumpy(t)
	needMedia(t)
	in := t.TempDir()
	main := filepath.Join(in, "shots.mp4")
	cuts := makeSceneVideo(t, main, sceneParts)
	small := filepath.Join(in, "small.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3,scroll=h=0.01", "-c:v", "libx264",
		"-preset", "ultrafast", "-threads", "1", small)
	srv := newCaptionServer(t).start()
	db := filepath.Join(t.TempDir(), "db")
	r := mustClipfs(t, 0, "curate", "--input", in, "--db", db, "--workers", workers(),
		"--splitting-algorithm", "scene", "--motion-filter", "enable", "--generate-previews",
		"--captioning-endpoint", srv.URL+"/v1", "--caption-model", "vlm-test", "--caption-frames", "3",
		"--enhance-captions-endpoint", srv.URL+"/v1", "--enhance-caption-model", "lm-test")
	if !strings.Contains(r.stderr, "motion_decode") || !strings.Contains(r.stderr, "resolution_too_small") {
		t.Errorf("no line about the small video's motion score:\n%s", r.stderr)
	}
	m := mount(t, db)

	// 25 fps: min length int(2*25)=50, max int(10*25)=250, crop int(0.5*25)=12.
	frames := 0
	for _, p := range sceneParts {
		frames += p.Frames
	}
	want := nemoScenes(cuts, frames, 50, 250, 12)
	if len(want) != len(sceneParts) {
		t.Fatalf("test setup: %d scenes from %v", len(want), cuts)
	}
	var passed, filtered []string
	for i, s := range want {
		id := spanID(main, s)
		var meta sceneMeta
		readJSON(t, filepath.Join(m.dir, "metas", "v0", id+".json"), &meta)
		if meta.DurationSpan != [2]float64{float64(s[0]) / 25, float64(s[1]) / 25} {
			t.Errorf("scene %v: duration_span %v", s, meta.DurationSpan)
		}
		if meta.NumFrames != s[1]-s[0] {
			t.Errorf("scene %v: clip has %d frames, want %d", s, meta.NumFrames, s[1]-s[0])
		}
		if meta.Motion == nil {
			t.Fatalf("scene %v: no motion_score", s)
		}
		still := strings.HasPrefix(sceneParts[i].Source, "color=")
		if got := meta.Motion.GlobalMean < 0.00098 || meta.Motion.PerPatchMin256 < 1e-6; got != still {
			t.Errorf("scene %v (%s): small motion %t, motion_score %+v", s, sceneParts[i].Source, got, *meta.Motion)
		}
		folder := "clips"
		if still {
			folder = "filtered_clips"
			filtered = append(filtered, id)
			if len(meta.Windows) != 0 || meta.Valid {
				t.Errorf("filtered clip %s: windows %v valid %t", id, meta.Windows, meta.Valid)
			}
		} else {
			passed = append(passed, id)
			checkCaptions(t, srv, id, meta)
		}
		if want := filepath.Join(m.dir, folder, id+".mp4"); meta.ClipLocation != want {
			t.Errorf("clip_location %s, want %s", meta.ClipLocation, want)
		}
		if _, err := os.Stat(filepath.Join(m.dir, folder, id+".mp4")); err != nil {
			t.Error(err)
		}
	}

	// The small video: one scene (no cut), [12, 63), filtered for lack of a score.
	smallID := spanID(small, [2]int{12, 63})
	var sm sceneMeta
	readJSON(t, filepath.Join(m.dir, "metas", "v0", smallID+".json"), &sm)
	if !slices.Equal(sm.Errors, []string{"motion_decode"}) || sm.Motion == nil ||
		sm.Motion.GlobalMean != -1 || sm.Motion.PerPatchMin256 != -1 {
		t.Errorf("small video: errors %v motion %+v, want [motion_decode] and -1, -1", sm.Errors, sm.Motion)
	}
	if _, err := os.Stat(filepath.Join(m.dir, "filtered_clips", smallID+".mp4")); err != nil {
		t.Error(err)
	}

	var chunk struct {
		Motion   int                          `json:"num_clips_filtered_by_motion"`
		Passed   int                          `json:"num_clips_passed"`
		Caption  int                          `json:"num_clips_with_caption"`
		Clips    []string                     `json:"clips"`
		Filtered []string                     `json:"filtered_clips"`
		All      map[string]map[string]string `json:"all_windows"`
		Enhanced map[string]map[string]string `json:"all_windows_enhanced_caption"`
	}
	readJSON(t, filepath.Join(m.dir, "processed_clip_chunks", "shots.mp4_0.json"), &chunk)
	if !slices.Equal(chunk.Clips, passed) || !slices.Equal(chunk.Filtered, filtered) ||
		chunk.Motion != len(filtered) || chunk.Passed != len(passed) || chunk.Caption != len(passed) {
		t.Errorf("chunk: clips %v filtered %v motion %d passed %d caption %d; want %v %v",
			chunk.Clips, chunk.Filtered, chunk.Motion, chunk.Passed, chunk.Caption, passed, filtered)
	}
	for _, id := range passed {
		for k, v := range chunk.All[id] {
			if chunk.Enhanced[id][k] != "Enhanced: "+v {
				t.Errorf("all_windows_enhanced_caption[%s][%s] = %q for caption %q", id, k, chunk.Enhanced[id][k], v)
			}
		}
		if len(chunk.All[id]) == 0 {
			t.Errorf("all_windows[%s] is empty", id)
		}
	}

	// Only passed clips are captioned: one window each, three frames per request.
	srv.mu.Lock()
	if len(srv.vision) != len(passed) || len(srv.text) != len(passed) {
		t.Errorf("%d vision and %d text requests for %d passed clips", len(srv.vision), len(srv.text), len(passed))
	}
	for _, vr := range srv.vision {
		if vr.Model != "vlm-test" || vr.Images != 3 || vr.MaxSide != 384 || vr.Prompt == "" {
			t.Errorf("vision request %+v", vr)
		}
	}
	srv.mu.Unlock()

	var rep treeReport
	runPy(t, &rep, filepath.Join(repoRoot, "test", "check_tree.py"), m.dir)
	for rel, j := range rep.JSON {
		if !j.Exact || j.Size != j.StatSize {
			t.Errorf("%s: not json.dumps(indent=4) (exact %t) or stat size %d != %d", rel, j.Exact, j.StatSize, j.Size)
		}
	}
	checkCounters(t, m.dir, motionThresholds...)

	// Shards hold the passed clips only, with their caption as .txt.
	var shard struct {
		Names []string          `json:"names"`
		Txt   map[string]string `json:"txt"`
	}
	pyJSON(t, &shard, `
import json, sys, tarfile
names, txt = [], {}
with tarfile.open(sys.argv[1]) as tf:
    for m in tf:
        names.append(m.name)
        if m.name.endswith(".txt"):
            txt[m.name[:-4]] = tf.extractfile(m).read().decode()
json.dump({"names": names, "txt": txt}, sys.stdout)`, filepath.Join(m.dir, "wds", "shard-000000.tar"))
	for _, id := range filtered {
		for _, n := range shard.Names {
			if strings.HasPrefix(n, id) {
				t.Errorf("filtered clip %s is in the shard as %s", id, n)
			}
		}
	}
	for _, id := range passed {
		if shard.Txt[id] == "" || shard.Txt[id] != firstCaption(chunk.All[id]) {
			t.Errorf("shard %s.txt = %q, all_windows %v", id, shard.Txt[id], chunk.All[id])
		}
	}
}

func firstCaption(windows map[string]string) string {
	keys := make([]string, 0, len(windows))
	for k := range windows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ai, _ := strconv.Atoi(strings.Split(a, "_")[0])
		bi, _ := strconv.Atoi(strings.Split(b, "_")[0])
		return ai - bi
	})
	if len(keys) == 0 {
		return ""
	}
	return windows[keys[0]]
}

// checkCaptions checks a passed clip's windows: each has the vision model's
// answer (one the server gave) and its enhancement.
func checkCaptions(t *testing.T, srv *captionServer, id string, meta sceneMeta) {
	t.Helper()
	if len(meta.Windows) == 0 || !meta.Valid {
		t.Errorf("%s: windows %v valid %t", id, meta.Windows, meta.Valid)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, w := range meta.Windows {
		c, _ := w["vlm-test_caption"].(string)
		if !srv.answers[c] {
			t.Errorf("%s window %v: caption %q is not an answer of the server", id, w, c)
		}
		if e, _ := w["lm-test_enhanced_caption"].(string); e != "Enhanced: "+c {
			t.Errorf("%s window %v: enhanced caption %q", id, w, e)
		}
	}
}

// TestSceneCutsAreFrameExact splits with no crop and no minimum length, so
// clips are the shots themselves, and checks every clip against the source
// video frame by frame at both ends: a clip starts on the first frame of its
// shot and ends on the last.
func TestSceneCutsAreFrameExact(t *testing.T) {
	needMedia(t)
	in := t.TempDir()
	src := filepath.Join(in, "shots.mp4")
	cuts := makeSceneVideo(t, src, sceneParts)
	db := filepath.Join(t.TempDir(), "db")
	mustClipfs(t, 0, "curate", "--input", in, "--db", db, "--workers", workers(), "--splitting-algorithm", "scene",
		"--scene-crop-s", "0", "--scene-min-length-s", "0")
	out := filepath.Join(t.TempDir(), "out")
	mustClipfs(t, 0, "export", "--db", db, "--out", out)
	frames := 0
	for _, p := range sceneParts {
		frames += p.Frames
	}
	srcFrames := grayFrames(t, src)
	if len(srcFrames) != frames {
		t.Fatalf("source decodes to %d frames, want %d", len(srcFrames), frames)
	}
	for _, s := range nemoScenes(cuts, frames, 0, 250, 0) {
		clip := grayFrames(t, filepath.Join(out, "clips", spanID(src, s)+".mp4"))
		if len(clip) != s[1]-s[0] {
			t.Errorf("scene %v: clip has %d frames, want %d", s, len(clip), s[1]-s[0])
			continue
		}
		for _, end := range []struct {
			clip, src, other int // other: the frame just outside the shot
		}{{0, s[0], s[0] - 1}, {len(clip) - 1, s[1] - 1, s[1]}} {
			same := meanAbsDiff(clip[end.clip], srcFrames[end.src])
			if same > 6 {
				t.Errorf("scene %v: clip frame %d differs from source frame %d by %.1f", s, end.clip, end.src, same)
			}
			if end.other >= 0 && end.other < frames {
				if d := meanAbsDiff(clip[end.clip], srcFrames[end.other]); d <= same+10 {
					t.Errorf("scene %v: clip frame %d is as close to source frame %d (%.1f) as to %d (%.1f)",
						s, end.clip, end.other, d, end.src, same)
				}
			}
		}
	}
}

// grayFrames decodes every frame of a video as 48x32 8-bit grey.
func grayFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-fps_mode", "passthrough",
		"-vf", "scale=48:32:flags=area", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1").Output()
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	var frames [][]byte
	for len(out) >= 48*32 {
		frames = append(frames, out[:48*32])
		out = out[48*32:]
	}
	return frames
}

func meanAbsDiff(a, b []byte) float64 {
	sum := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		sum += max(d, -d)
	}
	return float64(sum) / float64(len(a))
}

// TestCaptionEndpointFailures: an endpoint that refuses a request (400)
// is the clip's failure: the window stays uncaptioned, "caption" is in the
// clip's errors, the run succeeds. An endpoint that is down, answers 500
// or is slower than the timeout through all its retries is a fault of the
// machine: exit 4, nothing of the chunk committed, and once it is back a
// re-run captions every clip and gives the tree of a clean run. One that
// refuses every other request (503) is absorbed by the retries.
func TestCaptionEndpointFailures(t *testing.T) {
	needMedia(t)
	needNumpy(t)
	in := t.TempDir()
	for _, name := range []string{"a.mp4", "b.mp4"} {
		ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-c:v", "libx264", "-preset", "ultrafast",
			"-threads", "1", filepath.Join(in, name))
	}
	args := func(db, url string, more ...string) []string {
		return append([]string{"curate", "--input", in, "--db", db, "--captioning-endpoint", url + "/v1",
			"--caption-model", "vlm-test", "--caption-timeout", "300ms"}, more...)
	}
	good := newCaptionServer(t).start()
	clean := filepath.Join(t.TempDir(), "clean")
	mustClipfs(t, 0, args(clean, good.URL)...)
	cleanTree := exportTree(t, clean, "/out")
	cleanTotals := checkCounters(t, cleanTree)
	if cleanTotals["num_clips_with_caption"] != 2 {
		t.Fatalf("clean run: %d clips with captions, want 2", cleanTotals["num_clips_with_caption"])
	}

	t.Run("refused", func(t *testing.T) {
		srv := newCaptionServer(t)
		srv.status = http.StatusBadRequest
		srv.start()
		db := filepath.Join(t.TempDir(), "db")
		r := mustClipfs(t, 0, args(db, srv.URL, "--caption-retries", "2")...)
		if !strings.Contains(r.stderr, "window not captioned") {
			t.Errorf("no line about the refused caption:\n%s", r.stderr)
		}
		out := exportTree(t, db, "/out")
		metas, _ := filepath.Glob(filepath.Join(out, "metas", "v0", "*.json"))
		if len(metas) != 2 {
			t.Fatalf("%d metas, want 2", len(metas))
		}
		var meta sceneMeta
		readJSON(t, metas[0], &meta)
		if !slices.Equal(meta.Errors, []string{"caption"}) || len(meta.Windows) != 1 || len(meta.Windows[0]) != 2 || !meta.Valid {
			t.Errorf("metas: errors %v windows %v valid %t; want [caption], one window without caption, valid",
				meta.Errors, meta.Windows, meta.Valid)
		}
		srv.mu.Lock()
		if srv.count != 2 {
			t.Errorf("%d requests, want 2 (a 400 is not retried)", srv.count)
		}
		srv.mu.Unlock()
		checkCounters(t, out)
	})

	closed := newCaptionServer(t).start()
	downURL := closed.URL
	closed.Close()
	for _, c := range []struct {
		name    string
		url     func() (string, *captionServer)
		retries int
		want    int // requests to the endpoint, -1: not counted
	}{
		{"down", func() (string, *captionServer) { return downURL, nil }, 1, -1},
		{"failing", func() (string, *captionServer) {
			srv := newCaptionServer(t)
			srv.status = http.StatusInternalServerError
			return srv.start().URL, srv
		}, 2, 3},
		{"slow", func() (string, *captionServer) {
			srv := newCaptionServer(t)
			srv.delay = 3 * time.Second
			return srv.start().URL, srv
		}, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			url, srv := c.url()
			db := filepath.Join(t.TempDir(), "db")
			r := mustClipfs(t, 4, args(db, url, "--caption-retries", strconv.Itoa(c.retries), "--workers", "1")...)
			if !strings.Contains(r.stderr, "not finished") || !strings.Contains(r.stderr, "caption endpoint") ||
				!strings.Contains(r.stderr, "unfinished") {
				t.Errorf("no line naming the unfinished video and the endpoint:\n%s", r.stderr)
			}
			if strings.Contains(r.stderr, "window not captioned") {
				t.Errorf("an endpoint fault was logged as the clip's:\n%s", r.stderr)
			}
			if srv != nil && c.want >= 0 {
				srv.mu.Lock()
				// the first video's window: 1 + retries; the second video may have sent its own too
				if srv.count < c.want {
					t.Errorf("%d requests, want at least %d (1 + %d retries)", srv.count, c.want, c.retries)
				}
				srv.mu.Unlock()
			}
			out := exportTree(t, db, "/out")
			if metas, _ := filepath.Glob(filepath.Join(out, "metas", "v0", "*.json")); len(metas) != 0 {
				t.Errorf("%d metas committed by a run whose endpoint failed, want 0", len(metas))
			}
			// The endpoint is back: the re-run finishes the job.
			r = mustClipfs(t, 0, args(db, good.URL)...)
			if !strings.Contains(r.stderr, "0 up to date") {
				t.Errorf("re-run: %s", r.stderr)
			}
			out = exportTree(t, db, "/out")
			if totals := checkCounters(t, out); !maps.Equal(totals, cleanTotals) {
				t.Errorf("counters after the re-run %v, clean run %v", totals, cleanTotals)
			}
			if d, err := exec.Command("diff", "-r", cleanTree, out).CombinedOutput(); err != nil {
				t.Errorf("re-run tree differs from a clean run's: %v\n%.2000s", err, d)
			}
		})
	}

	t.Run("flapping", func(t *testing.T) {
		srv := newCaptionServer(t)
		srv.flap = true
		srv.start()
		db := filepath.Join(t.TempDir(), "db")
		r := mustClipfs(t, 0, append(args(db, srv.URL), "--caption-retries", "2")...)
		if strings.Contains(r.stderr, "not captioned") {
			t.Errorf("a flapping endpoint left windows uncaptioned:\n%s", r.stderr)
		}
		out := exportTree(t, db, "/out")
		if d, err := exec.Command("diff", "-r", cleanTree, out).CombinedOutput(); err != nil {
			t.Errorf("tree with a flapping endpoint differs from a clean run's: %v\n%.2000s", err, d)
		}
	})
}

// TestStageCombinations curates the same videos under several combinations
// of splitting, motion filter, captions, previews and no-upload, and checks
// every chunk's counters against the metas (docs/formats.md §3).
func TestStageCombinations(t *testing.T) {
	needMedia(t)
	needNumpy(t)
	in := t.TempDir()
	makeSceneVideo(t, filepath.Join(in, "shots.mp4"), sceneParts)
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=gray:s=320x256:r=30:d=5", "-c:v", "libx264", "-preset", "ultrafast",
		"-threads", "1", filepath.Join(in, "still.mp4"))
	srv := newCaptionServer(t).start()
	broken := newCaptionServer(t)
	broken.status = http.StatusBadRequest // refuses the clip: its failure, recorded
	broken.start()
	captions := []string{"--captioning-endpoint", srv.URL + "/v1", "--caption-model", "vlm", "--caption-frames", "2"}
	for _, c := range []struct {
		name   string
		args   []string
		filter bool           // motion filter enabled: check_counters checks the thresholds
		want   map[string]int // counters that must be positive (1) or zero (0) over the tree
	}{
		{"stride-score-only", []string{"--motion-filter", "score-only"}, false,
			map[string]int{"num_clips_passed": 1, "num_clips_filtered_by_motion": 0, "num_clips_with_webp": 0}},
		{"stride-motion-previews", []string{"--motion-filter", "enable", "--generate-previews"}, true,
			map[string]int{"num_clips_passed": 1, "num_clips_filtered_by_motion": 1, "num_clips_with_webp": 1, "num_clips_with_caption": 0}},
		{"scene-motion-captions-no-upload", append([]string{"--splitting-algorithm", "scene", "--motion-filter", "enable",
			"--no-upload-clips", "--enhance-captions-endpoint", srv.URL + "/v1", "--enhance-caption-model", "lm"}, captions...), true,
			map[string]int{"num_clips_passed": 1, "num_clips_filtered_by_motion": 1, "num_clips_with_caption": 1, "num_clips_transcoded": 1}},
		{"scene-broken-captions-previews", []string{"--splitting-algorithm", "scene", "--generate-previews",
			"--captioning-endpoint", broken.URL + "/v1", "--caption-model", "vlm", "--caption-retries", "0"}, false,
			map[string]int{"num_clips_passed": 1, "num_clips_with_webp": 1, "num_clips_with_caption": 0, "num_clips_filtered_by_motion": 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "db")
			mustClipfs(t, 0, append([]string{"curate", "--input", in, "--db", db, "--workers", workers()}, c.args...)...)
			out := filepath.Join(t.TempDir(), "out")
			mustClipfs(t, 0, "export", "--db", db, "--out", out)
			var totals map[string]int
			if c.filter {
				totals = checkCounters(t, out, motionThresholds...)
			} else {
				totals = checkCounters(t, out)
			}
			for k, positive := range c.want {
				if (totals[k] > 0) != (positive == 1) {
					t.Errorf("%s = %d over the tree, want %s", k, totals[k], map[int]string{0: "0", 1: "> 0"}[positive])
				}
			}
			// Re-running with the same settings adds nothing.
			r := mustClipfs(t, 0, append([]string{"curate", "--input", in, "--db", db}, c.args...)...)
			if !strings.Contains(r.stderr, "2 up to date") {
				t.Errorf("re-run did work: %s", r.stderr)
			}
		})
	}
}

// TestCurationFlagErrors: bad values of the new flags are usage errors
// (exit 2) with one line naming the flag.
func TestCurationFlagErrors(t *testing.T) {
	in, db := t.TempDir(), filepath.Join(t.TempDir(), "db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--splitting-algorithm", "transnetv2"}, "--splitting-algorithm"},
		{[]string{"--motion-filter", "maybe"}, "--motion-filter"},
		{[]string{"--captioning-endpoint", "http://127.0.0.1:1/v1"}, "--caption-model"},
		{[]string{"--captioning-endpoint", "ftp://x", "--caption-model", "m"}, "--captioning-endpoint"},
		{[]string{"--caption-model", "m"}, "--captioning-endpoint"},
		{[]string{"--scene-max-length-s", "-1"}, "scene"},
	} {
		r := mustClipfs(t, 2, append([]string{"curate", "--input", in, "--db", db}, c.args...)...)
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: %q does not name %s", c.args, r.stderr, c.want)
		}
	}
}
