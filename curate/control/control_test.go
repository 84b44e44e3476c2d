package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipfs/clipfs/curate/daemon"
)

// fakeDaemon records what the API asked of it.
type fakeDaemon struct {
	mu        sync.Mutex
	status    daemon.Status
	submitted []string
	sealed    bool
	sealErr   error
}

func (f *fakeDaemon) Status() daemon.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

// Submit queues paths under /in and refuses the others.
func (f *fakeDaemon) Submit(paths []string) ([]string, []error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var queued []string
	var errs []error
	for _, p := range paths {
		if !strings.HasPrefix(p, "/in/") {
			errs = append(errs, fmt.Errorf("%s is not under the input folder /in", p))
			continue
		}
		queued = append(queued, p)
		f.submitted = append(f.submitted, p)
	}
	return queued, errs
}

func (f *fakeDaemon) Pause()  { f.mu.Lock(); f.status.State = "paused"; f.mu.Unlock() }
func (f *fakeDaemon) Resume() { f.mu.Lock(); f.status.State = "running"; f.mu.Unlock() }
func (f *fakeDaemon) Seal(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return f.sealed, f.sealErr
}

var when = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func sampleStatus() daemon.Status {
	return daemon.Status{State: "running", Input: "/in", Uptime: 12, Queued: 1, Next: []string{"/in/b.mp4"},
		InFlight: []daemon.InFlight{{Path: "/in/a.mp4", Since: when, Seconds: 3}},
		Totals:   daemon.Totals{Curated: 2, Clips: 5, Bytes: 1000, Seconds: 40, Sealed: 1},
		Errors:   []daemon.ErrorLine{{Time: when, Path: "/in/x.mp4", Error: "/in/x.mp4: not a readable video"}},
		Waiting:  []daemon.Waiting{{Path: "/in/c.mp4", Reason: "disk full", Attempts: 2, RetryAt: when}},
	}
}

// serveAPI serves Handler(d, o) on a unix socket in a temporary folder and
// returns its address.
func serveAPI(t *testing.T, d Daemon, o Options) string {
	t.Helper()
	addr := "unix:" + filepath.Join(t.TempDir(), "clipfs.sock")
	ln, err := Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(d, o)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return addr
}

// get sends GET path with the given Authorization header ("" for none).
func get(t *testing.T, addr, path, auth string) (*http.Response, string) {
	t.Helper()
	c := NewClient(addr, "")
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestTokenRequired: with a token, every route (metrics included) refuses
// requests without it or with a wrong one, and the client says so.
func TestTokenRequired(t *testing.T) {
	d := &fakeDaemon{status: sampleStatus()}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "clipfs_up 1\n") })
	addr := serveAPI(t, d, Options{Token: "s3cret", Metrics: metrics})
	for _, auth := range []string{"", "Bearer wrong", "s3cret", "Basic s3cret", "Bearer s3cret2"} {
		for _, path := range []string{routeStatus, routeMetrics} {
			resp, body := get(t, addr, path, auth)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" ||
				body != "{\n  \"error\": \"missing or wrong bearer token\"\n}\n" {
				t.Errorf("GET %s with %q: %d %q, want 401 with a bearer challenge", path, auth, resp.StatusCode, body)
			}
		}
	}
	if resp, body := get(t, addr, routeMetrics, "Bearer s3cret"); resp.StatusCode != http.StatusOK || body != "clipfs_up 1\n" {
		t.Errorf("GET /metrics with the token: %d %q", resp.StatusCode, body)
	}
	for _, token := range []string{"", "wrong"} {
		_, err := NewClient(addr, token).Status(context.Background())
		if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), addr) {
			t.Errorf("client with token %q: %v, want ErrUnauthorized naming %s", token, err, addr)
		}
		if _, err := NewClient(addr, token).Submit(context.Background(), []string{"/in/a.mp4"}); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("submit with token %q: %v, want ErrUnauthorized", token, err)
		}
	}
	if len(d.submitted) != 0 {
		t.Errorf("refused submits reached the daemon: %v", d.submitted)
	}
	if _, err := NewClient(addr, "s3cret").Status(context.Background()); err != nil {
		t.Errorf("client with the token: %v", err)
	}
}

// TestStatusRoundTrip: the status JSON has the wire format's field names
// (testdata/status.json) and decodes back to what the daemon said.
func TestStatusRoundTrip(t *testing.T) {
	d := &fakeDaemon{status: sampleStatus()}
	where := Where{DB: "/db", Mount: "/mnt", Listen: "unix:/db/clipfs.sock", PID: 42}
	addr := serveAPI(t, d, Options{Where: where})
	resp, body := get(t, addr, routeStatus, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/status: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	golden := filepath.Join("testdata", "status.json")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.WriteFile(golden, []byte(body), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if body != string(want) {
		t.Errorf("status JSON differs from %s:\n%s", golden, body)
	}
	got, err := NewClient(addr, "").Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if wantStatus := (Status{Status: sampleStatus(), Where: where}); !reflect.DeepEqual(got, wantStatus) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, wantStatus)
	}
	if _, err := NewClient(addr, "").Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := NewClient(addr, "").Status(context.Background()); st.State != "paused" {
		t.Errorf("after pause: state %q", st.State)
	}
	if state, err := NewClient(addr, "").Resume(context.Background()); err != nil || state != "running" {
		t.Errorf("resume: %q, %v", state, err)
	}
}

// TestSubmit: queued videos and refused paths come back, never null; a
// submit of nothing but refused paths is an error carrying their reasons;
// a body that is not JSON paths is refused.
func TestSubmit(t *testing.T) {
	d := &fakeDaemon{}
	addr := serveAPI(t, d, Options{})
	c := NewClient(addr, "")
	rep, err := c.Submit(context.Background(), []string{"/in/a.mp4", "/elsewhere/b.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Queued, []string{"/in/a.mp4"}) || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "/elsewhere/b.mp4") {
		t.Errorf("submit: %+v", rep)
	}
	if rep, err := c.Submit(context.Background(), []string{"/in/c.mp4"}); err != nil || rep.Errors == nil {
		t.Errorf("submit of a good path: %+v, %v; want errors [] not null", rep, err)
	}
	_, err = c.Submit(context.Background(), []string{"/elsewhere/b.mp4"})
	if err == nil || !strings.Contains(err.Error(), "/elsewhere/b.mp4 is not under the input folder /in") {
		t.Errorf("submit of a refused path only: %v", err)
	}
	if _, err := c.Submit(context.Background(), nil); err == nil || !strings.Contains(err.Error(), `body must be {"paths"`) {
		t.Errorf("submit of nothing: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, c.base+routeSubmit, strings.NewReader(`{"paths": ["/in/d.mp4"]}`))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := c.http.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("submit as text/plain: %v %v, want 415", resp, err)
	}
	if !reflect.DeepEqual(d.submitted, []string{"/in/a.mp4", "/in/c.mp4"}) {
		t.Errorf("daemon got %v", d.submitted)
	}
}

// TestSeal: the client reports whether a shard sealed and the daemon's
// failure; a seal survives the client giving up.
func TestSeal(t *testing.T) {
	d := &fakeDaemon{sealed: true}
	addr := serveAPI(t, d, Options{})
	c := NewClient(addr, "")
	if sealed, err := c.Seal(context.Background()); err != nil || !sealed {
		t.Errorf("seal: %t, %v", sealed, err)
	}
	d.sealed, d.sealErr = false, errors.New("shard 3: disk full")
	if _, err := c.Seal(context.Background()); err == nil || !strings.Contains(err.Error(), "shard 3: disk full") {
		t.Errorf("failed seal: %v", err)
	}
	if _, err := NewClient("unix:"+filepath.Join(t.TempDir(), "none.sock"), "").Seal(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "none.sock") || strings.Contains(err.Error(), "http://") {
		t.Errorf("no server: %v, want the dial error naming the socket", err)
	}
}

// TestListen: the socket is private, a stale one is replaced, a live one
// and non-loopback addresses are refused.
func TestListen(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "clipfs.sock")
	ln, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", st.Mode(), err)
	}
	if _, err := Listen("unix:" + sock); err == nil || !strings.Contains(err.Error(), "another process serves that socket") {
		t.Errorf("second listener on a live socket: %v", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // leaves a stale socket, as a killed daemon does
	ln, err = Listen("unix:" + sock)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()

	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for addr, want := range map[string]string{
		"unix:" + file:                      "exists and is not a socket",
		"unix:/" + strings.Repeat("x", 120): "under 108 bytes",
		"192.0.2.1:8080":                    "loopback only",
		"example.com:80":                    "loopback only",
		"no-port":                           "want unix:PATH or a loopback host:port",
		"127.0.0.1:99999":                   "127.0.0.1:99999",
	} {
		if _, err := Listen(addr); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), addr+": ") {
			t.Errorf("Listen(%q): %v, want an error beginning with the address and saying %q", addr, err, want)
		}
	}
	ln, err = Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}
