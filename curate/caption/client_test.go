package caption

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// answer is a chat-completions response with content as the message content.
func answer(content string) string {
	return `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":` +
		content + `},"finish_reason":"stop"}]}`
}

// server starts an httptest server that counts requests and answers with
// handle(attempt, w, r), attempt counting from 1.
func server(t *testing.T, handle func(attempt int, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(int(attempts.Add(1)), w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &attempts
}

func newClient(t *testing.T, endpoint string, o Options) *Client {
	t.Helper()
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	c, err := New(endpoint, "test-vlm", o)
	if err != nil {
		t.Fatalf("New(%q): %v", endpoint, err)
	}
	return c
}

// waitRequest blocks a handler until the client gives up on the request.
// The server notices a closed connection only once the body has been read.
func waitRequest(r *http.Request) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func testJPEG(t *testing.T, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 8))
	for i := 0; i < len(img.Pix); i += 4 {
		copy(img.Pix[i:], []byte{c.R, c.G, c.B, c.A})
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestNew(t *testing.T) {
	tests := []struct {
		endpoint, model string
		target, display string // want, or the error's text in display when target is ""
	}{
		{"http://gpu:8000/v1", "m", "http://gpu:8000/v1/chat/completions", "http://gpu:8000/v1/chat/completions"},
		{" http://gpu:8000/v1/ ", "m", "http://gpu:8000/v1/chat/completions", "http://gpu:8000/v1/chat/completions"},
		{"https://api.example.com/v1/chat/completions", "m", "https://api.example.com/v1/chat/completions", "https://api.example.com/v1/chat/completions"},
		{"HTTP://gpu:11434", "m", "http://gpu:11434/v1/chat/completions", "http://gpu:11434/v1/chat/completions"},
		{"http://me:secret@gpu/openai?api-version=2", "m", "http://me:secret@gpu/openai/chat/completions?api-version=2", "http://gpu/openai/chat/completions"},
		{"localhost:8000/v1", "m", "", "caption endpoint localhost:8000/v1: want an http:// or https:// URL"},
		{"ftp://me:secret@gpu/v1", "m", "", "caption endpoint ftp://me:xxxxx@gpu/v1: want an http:// or https:// URL"},
		{"http:///v1", "m", "", "caption endpoint http:///v1: no host"},
		{"http://me:secret@[::1/v1", "m", "", "caption endpoint is not a URL: missing ']' in host"},
		{" ", "m", "", "caption endpoint is empty"},
		{"http://gpu:8000/v1", " ", "", "caption endpoint http://gpu:8000/v1/chat/completions: model name is empty"},
	}
	for _, tc := range tests {
		c, err := New(tc.endpoint, tc.model, Options{})
		if tc.target == "" {
			if err == nil || err.Error() != tc.display {
				t.Errorf("New(%q, %q) error = %v, want %q", tc.endpoint, tc.model, err, tc.display)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tc.endpoint, err)
			continue
		}
		if c.endpoint != tc.target || c.display != tc.display || c.Model() != tc.model {
			t.Errorf("New(%q) = %s shown as %s, model %q; want %s shown as %s",
				tc.endpoint, c.endpoint, c.display, c.Model(), tc.target, tc.display)
		}
	}
	c, _ := New("http://gpu/v1", "m", Options{})
	if c.timeout != 2*time.Minute || c.retries != 3 || c.backoff != 500*time.Millisecond ||
		cap(c.slots) != 4 || c.maxTokens != 512 || c.http == nil {
		t.Errorf("defaults: %+v", c)
	}
	if c, _ := New("http://gpu/v1", "m", Options{Retries: -1}); c.retries != 0 {
		t.Errorf("Retries -1 gives %d retries, want none", c.retries)
	}
}

func TestDescribeRequest(t *testing.T) {
	t.Parallel()
	jpegs := [][]byte{
		testJPEG(t, color.RGBA{255, 0, 0, 255}),
		testJPEG(t, color.RGBA{0, 255, 0, 255}),
		testJPEG(t, color.RGBA{0, 0, 255, 255}),
	}
	prompt := "Describe <this> & that \"clip\"."
	srv, attempts := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" ||
			r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer sk-test" {
			t.Errorf("request %s %s, Content-Type %q, Authorization %q", r.Method, r.URL.Path,
				r.Header.Get("Content-Type"), r.Header.Get("Authorization"))
		}
		var req struct {
			Model       string   `json:"model"`
			MaxTokens   *int     `json:"max_tokens"`
			Temperature *float64 `json:"temperature"`
			Messages    []struct {
				Role    string `json:"role"`
				Content []struct {
					Type     string `json:"type"`
					Text     string `json:"text"`
					ImageURL struct {
						URL string `json:"url"`
					} `json:"image_url"`
				} `json:"content"`
			} `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("request body: %v", err)
		}
		if req.Model != "test-vlm" || req.MaxTokens == nil || *req.MaxTokens != 77 ||
			req.Temperature == nil || *req.Temperature != 0 || len(req.Messages) != 1 || req.Messages[0].Role != "user" {
			t.Errorf("request %+v", req)
		} else if parts := req.Messages[0].Content; len(parts) != 1+len(jpegs) || parts[0].Type != "text" || parts[0].Text != prompt {
			t.Errorf("content parts %+v", parts)
		} else {
			for i, p := range parts[1:] {
				data, ok := strings.CutPrefix(p.ImageURL.URL, "data:image/jpeg;base64,")
				raw, err := base64.StdEncoding.DecodeString(data)
				if p.Type != "image_url" || !ok || err != nil || !bytes.Equal(raw, jpegs[i]) {
					t.Errorf("image part %d: type %q, url prefix ok %v, base64 %v, same bytes %v",
						i, p.Type, ok, err, bytes.Equal(raw, jpegs[i]))
				}
			}
		}
		io.WriteString(w, answer(`"  A red, a green and a blue frame.\n"`))
	})
	c := newClient(t, srv.URL+"/v1", Options{APIKey: "sk-test", MaxTokens: 77})
	got, err := c.Describe(context.Background(), prompt, jpegs)
	if err != nil || got != "A red, a green and a blue frame." {
		t.Fatalf("Describe = %q, %v", got, err)
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestRewriteRequest(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string `json:"model"`
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("request body: %v", err)
		}
		want := []string{"system", "Make it richer.", "user", "A dog runs."}
		if r.Header.Get("Authorization") != "" || len(req.Messages) != 2 ||
			req.Messages[0].Role != want[0] || req.Messages[0].Content != want[1] ||
			req.Messages[1].Role != want[2] || req.Messages[1].Content != want[3] {
			t.Errorf("request %+v (Authorization %q), want messages %q and no key", req, r.Header.Get("Authorization"), want)
		}
		io.WriteString(w, answer(`"A brown dog runs across a sunny lawn."`))
	})
	got, err := newClient(t, srv.URL+"/v1/chat/completions", Options{}).Rewrite(context.Background(), "Make it richer.", "A dog runs.")
	if err != nil || got != "A brown dog runs across a sunny lawn." {
		t.Fatalf("Rewrite = %q, %v", got, err)
	}
}

func TestAnswerShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want, wantErr string
	}{
		{"string content", answer(`" text "`), "text", ""},
		{"text parts", answer(`[{"type":"text","text":"two "},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"parts"}]`), "two parts", ""},
		{"empty content", answer(`"  \n"`), "", "empty answer"},
		{"null content", answer(`null`), "", "empty answer"},
		{"odd content", answer(`42`), "", "unexpected message content in response: 42"},
		{"no choices", `{"choices":[]}`, "", "no choices in response"},
		{"not JSON", "<html>\n<b>proxy</b> page</html>", "", "response is not JSON: <html> <b>proxy</b> page</html>"},
		{"error object", `{"error":{"message":"model test-vlm not loaded","type":"invalid_request_error"}}`, "", "server error: model test-vlm not loaded"},
		{"error string", `{"error":"out of memory"}`, "", "server error: out of memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, attempts := server(t, func(_ int, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, tc.body) })
			got, err := newClient(t, srv.URL, Options{}).Describe(context.Background(), "p", nil)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Errorf("Describe = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			want := "caption endpoint " + srv.URL + "/v1/chat/completions: " + tc.wantErr
			if err == nil || err.Error() != want || attempts.Load() != 1 {
				t.Errorf("Describe = %q, %v after %d requests; want error %q after 1", got, err, attempts.Load(), want)
			}
		})
	}
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	srv, attempts := server(t, func(attempt int, w http.ResponseWriter, _ *http.Request) {
		if attempt <= 2 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, answer(`"ok"`))
	})
	got, err := newClient(t, srv.URL, Options{}).Describe(context.Background(), "p", nil)
	if err != nil || got != "ok" || attempts.Load() != 3 {
		t.Fatalf("Describe = %q, %v after %d requests; want ok after 3", got, err, attempts.Load())
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	var first, second atomic.Int64 // UnixNano of each attempt
	srv, _ := server(t, func(attempt int, w http.ResponseWriter, _ *http.Request) {
		if attempt == 1 {
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"rate limited"}}`)
			return
		}
		second.Store(time.Now().UnixNano())
		io.WriteString(w, answer(`"ok"`))
	})
	got, err := newClient(t, srv.URL, Options{Backoff: time.Millisecond}).Rewrite(context.Background(), "i", "t")
	if err != nil || got != "ok" {
		t.Fatalf("Rewrite = %q, %v", got, err)
	}
	if wait := time.Duration(second.Load() - first.Load()); wait < 950*time.Millisecond || wait > 1900*time.Millisecond {
		t.Errorf("second attempt came %v after the first, want about 1s (Retry-After)", wait)
	}
}

func TestRetryableStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		body     string
		attempts int32
		wantErr  string
	}{
		{400, `{"error":{"message":"image too large","code":400}}`, 1, "HTTP 400: image too large"},
		{401, `{"error":"unauthorized"}`, 1, "HTTP 401: unauthorized"},
		{404, `{"object":"error","message":"The model does not exist."}`, 1, "HTTP 404: The model does not exist."},
		{422, `{"detail":[{"loc":["body"],"msg":"field required"}]}`, 1, `HTTP 422: [{"loc":["body"],"msg":"field required"}]`},
		{408, "", 3, "gave up after 3 attempts: HTTP 408: Request Timeout"},
		{429, "slow down", 3, "gave up after 3 attempts: HTTP 429: slow down"},
		{500, "boom\n", 3, "gave up after 3 attempts: HTTP 500: boom"},
		{502, `{"error":{"message":"upstream down"}}`, 3, "gave up after 3 attempts: HTTP 502: upstream down"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			srv, attempts := server(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			_, err := newClient(t, srv.URL, Options{Retries: 2}).Describe(context.Background(), "p", nil)
			want := "caption endpoint " + srv.URL + "/v1/chat/completions: " + tc.wantErr
			if err == nil || err.Error() != want || attempts.Load() != tc.attempts {
				t.Errorf("Describe error = %v after %d requests; want %q after %d", err, attempts.Load(), want, tc.attempts)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv, attempts := server(t, func(_ int, _ http.ResponseWriter, r *http.Request) { waitRequest(r) })
	begin := time.Now()
	_, err := newClient(t, srv.URL, Options{Timeout: 200 * time.Millisecond, Retries: 1}).Describe(context.Background(), "p", nil)
	want := "caption endpoint " + srv.URL + "/v1/chat/completions: gave up after 2 attempts: timeout after 200ms"
	if err == nil || err.Error() != want || attempts.Load() != 2 {
		t.Errorf("Describe error = %v after %d requests; want %q after 2", err, attempts.Load(), want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout error %v is not context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(begin); elapsed > 1500*time.Millisecond {
		t.Errorf("two attempts of 200ms took %v", elapsed)
	}
	_, err = newClient(t, srv.URL, Options{Timeout: 100 * time.Millisecond, Retries: -1}).Describe(context.Background(), "p", nil)
	if want := "caption endpoint " + srv.URL + "/v1/chat/completions: timeout after 100ms"; err == nil || err.Error() != want {
		t.Errorf("without retries: error %v, want %q", err, want)
	}
}

// hangUp closes the connection without answering.
func hangUp(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

func TestServerClosesConnection(t *testing.T) {
	t.Parallel()
	srv, attempts := server(t, func(attempt int, w http.ResponseWriter, _ *http.Request) {
		if attempt == 1 {
			hangUp(t, w)
			return
		}
		io.WriteString(w, answer(`"back"`))
	})
	got, err := newClient(t, srv.URL, Options{}).Describe(context.Background(), "p", nil)
	if err != nil || got != "back" || attempts.Load() != 2 {
		t.Errorf("Describe = %q, %v after %d requests; want back after 2", got, err, attempts.Load())
	}

	srv, attempts = server(t, func(_ int, w http.ResponseWriter, _ *http.Request) { hangUp(t, w) })
	_, err = newClient(t, srv.URL, Options{Retries: 1}).Describe(context.Background(), "p", nil)
	want := "caption endpoint " + srv.URL + "/v1/chat/completions: gave up after 2 attempts: server closed the connection"
	if err == nil || err.Error() != want || attempts.Load() != 2 {
		t.Errorf("Describe error = %v after %d requests; want %q after 2", err, attempts.Load(), want)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request)
	}{
		{"during backoff", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) }},
		{"in flight", func(_ http.ResponseWriter, r *http.Request) { waitRequest(r) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv, attempts := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				time.AfterFunc(50*time.Millisecond, cancel)
				tc.handle(w, r)
			})
			begin := time.Now()
			_, err := newClient(t, srv.URL, Options{Backoff: 10 * time.Second}).Describe(ctx, "p", nil)
			if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "caption endpoint ") {
				t.Errorf("Describe error = %v, want context.Canceled naming the endpoint", err)
			}
			if elapsed := time.Since(begin); elapsed > time.Second || attempts.Load() != 1 {
				t.Errorf("cancelled Describe took %v and %d requests", elapsed, attempts.Load())
			}
		})
	}
}

func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	var now, peak atomic.Int32
	srv, attempts := server(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
		now.Add(-1)
		io.WriteString(w, answer(`"ok"`))
	})
	c := newClient(t, srv.URL, Options{MaxInFlight: 3})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.Describe(context.Background(), "p", nil); err != nil {
				t.Errorf("Describe: %v", err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 3 || p < 2 || attempts.Load() != 20 {
		t.Errorf("%d requests, at most %d at once; want 20, 2 or 3 at once", attempts.Load(), p)
	}
}

func TestErrorsHideAPIKey(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 150) // 300 bytes
	srv, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		msg := fmt.Sprintf("bad header %q\n%s", r.Header.Get("Authorization"), long)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": msg}})
	})
	_, err := newClient(t, srv.URL, Options{APIKey: "sk-secret-123"}).Describe(context.Background(), "p", nil)
	msg := fmt.Sprint(err)
	if err == nil || strings.Contains(msg, "sk-secret") || !strings.Contains(msg, `HTTP 401: bad header "Bearer [api key]" éé`) ||
		strings.Contains(msg, "\n") || !strings.HasSuffix(msg, "...") {
		t.Errorf("error = %q, want one line with the key masked, cut at 200 bytes", msg)
	}
	if i := strings.Index(msg, "HTTP 401: "); i < 0 || len(msg[i+len("HTTP 401: "):]) > 200+len("...") {
		t.Errorf("server message longer than 200 bytes: %q", msg)
	}
}

func TestDelay(t *testing.T) {
	c := &Client{backoff: 100 * time.Millisecond}
	for attempt, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		4: 800 * time.Millisecond, 20: 30 * time.Second} {
		for range 50 {
			if d := c.delay(attempt, -1); d < base/2 || d > base {
				t.Fatalf("delay after attempt %d = %v, want in [%v, %v]", attempt, d, base/2, base)
			}
		}
	}
	if d := c.delay(1, 3*time.Second); d != 3*time.Second {
		t.Errorf("delay with Retry-After 3s = %v", d)
	}
	if d := c.delay(1, time.Hour); d != 30*time.Second {
		t.Errorf("delay with Retry-After 1h = %v, want the 30s cap", d)
	}
	retryAfter := map[string]time.Duration{"": -1, "abc": -1, "-3": -1, "0": 0, "7": 7 * time.Second, "99999999999": 30 * time.Second}
	for value, want := range retryAfter {
		if got := parseRetryAfter(value); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", value, got, want)
		}
	}
	date := time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat)
	if got := parseRetryAfter(date); got < 3*time.Second || got > 5*time.Second {
		t.Errorf("parseRetryAfter(%q) = %v, want about 5s", date, got)
	}
}
