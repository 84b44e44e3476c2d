package caption

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clipfs/clipfs/curate/fault"
)

// DefaultCaptionPrompt is the prompt sent with a window's frames: NeMo
// Curator's default captioning prompt.
const DefaultCaptionPrompt = "Elaborate on the visual and narrative elements of the video in detail."

// DefaultEnhancePrompt is the instruction given to the enhancement model,
// which receives a caption as the user message.
const DefaultEnhancePrompt = "You improve captions of short video clips. " +
	"Rewrite the caption you are given into a richer, more detailed and vivid description of the video: " +
	"the scene, the subjects and their appearance, their actions and how they unfold, the camera, " +
	"lighting and mood. Stay faithful to the caption: do not invent objects, people, events or details " +
	"it does not support. Answer with the rewritten caption only, as plain prose, " +
	"without any preamble, heading or commentary."

// Defaults of Options.
const (
	defaultTimeout     = 2 * time.Minute
	defaultRetries     = 3
	defaultBackoff     = 500 * time.Millisecond
	maxBackoff         = 30 * time.Second // also caps Retry-After
	defaultMaxInFlight = 4
	defaultMaxTokens   = 512
)

const (
	maxResponseBytes = 16 << 20 // a larger answer is an error
	maxServerText    = 200      // bytes of a server's error message kept
)

// Options tune a Client. Zero values mean the defaults.
type Options struct {
	APIKey      string        // sent as "Authorization: Bearer ..." when set
	Timeout     time.Duration // per request attempt (default 2m)
	Retries     int           // extra attempts after the first on network errors, timeouts, 408, 429 and 5xx (default 3; negative: none)
	Backoff     time.Duration // first delay between attempts (default 500ms), doubling, jittered, at most 30s; Retry-After on 429/503 wins (at most 30s)
	MaxInFlight int           // requests in flight at once across all goroutines using the client (default 4)
	MaxTokens   int           // "max_tokens" of each request (default 512)
	HTTP        *http.Client  // default: a client with dial, TLS and idle-connection limits
}

// Client talks to one chat-completions endpoint about one model. It is safe
// for concurrent use.
type Client struct {
	endpoint  string // the full chat-completions URL requests go to
	display   string // endpoint as errors show it: no user info, no query
	model     string
	apiKey    string
	timeout   time.Duration
	retries   int
	backoff   time.Duration
	maxTokens int
	http      *http.Client
	slots     chan struct{} // one token per request in flight
}

// New checks the endpoint URL (http or https, host present) and the model
// name (non-empty) and returns a client for them. The endpoint may be the full
// ".../chat/completions" URL or a base URL ("http://host:8000/v1"), which gets
// "/chat/completions" appended; a bare host ("http://host:8000") gets
// "/v1/chat/completions", where every OpenAI-compatible server listens.
func New(endpoint, model string, o Options) (*Client, error) {
	target, display, err := chatCompletionsURL(endpoint)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(model) == "" {
		return nil, fmt.Errorf("caption endpoint %s: model name is empty", display)
	}
	c := &Client{
		endpoint:  target,
		display:   display,
		model:     model,
		apiKey:    o.APIKey,
		timeout:   positiveOr(o.Timeout, defaultTimeout),
		retries:   o.Retries,
		backoff:   positiveOr(o.Backoff, defaultBackoff),
		maxTokens: positiveOr(o.MaxTokens, defaultMaxTokens),
		http:      o.HTTP,
	}
	switch {
	case o.Retries == 0:
		c.retries = defaultRetries
	case o.Retries < 0:
		c.retries = 0
	}
	inFlight := positiveOr(o.MaxInFlight, defaultMaxInFlight)
	c.slots = make(chan struct{}, inFlight)
	if c.http == nil {
		c.http = defaultHTTPClient(inFlight)
	}
	return c, nil
}

func positiveOr[T int | time.Duration](v, fallback T) T {
	if v > 0 {
		return v
	}
	return fallback
}

// chatCompletionsURL checks endpoint and completes its path.
func chatCompletionsURL(endpoint string) (target, display string, err error) {
	endpoint = strings.TrimSpace(endpoint)
	if endpoint == "" {
		return "", "", errors.New("caption endpoint is empty")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // its message repeats the URL, password included
		}
		return "", "", fmt.Errorf("caption endpoint is not a URL: %v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "", fmt.Errorf("caption endpoint %s: want an http:// or https:// URL", u.Redacted())
	case u.Hostname() == "":
		return "", "", fmt.Errorf("caption endpoint %s: no host", u.Redacted())
	}
	path := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
	case path == "":
		path = "/v1/chat/completions"
	default:
		path += "/chat/completions"
	}
	u.Path, u.RawPath, u.Fragment = path, "", ""
	shown := *u
	shown.User, shown.RawQuery, shown.ForceQuery = nil, "", false
	return u.String(), shown.String(), nil
}

// defaultHTTPClient keeps enough idle connections for the requests in flight.
func defaultHTTPClient(inFlight int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          max(inFlight, 16),
		MaxIdleConnsPerHost:   inFlight,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// Model is the model name sent with every request.
func (c *Client) Model() string { return c.model }

// MaxTokens is the max_tokens sent with every request.
func (c *Client) MaxTokens() int { return c.maxTokens }

// Describe sends one user message, the prompt as a text part followed by
// one image_url part per JPEG ("data:image/jpeg;base64,..."), and returns
// the answer with surrounding white space trimmed.
func (c *Client) Describe(ctx context.Context, prompt string, jpegs [][]byte) (string, error) {
	parts := make([]any, 0, 1+len(jpegs))
	parts = append(parts, textPart{Type: "text", Text: prompt})
	for _, jpeg := range jpegs {
		url := "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(jpeg)
		parts = append(parts, imagePart{Type: "image_url", ImageURL: imageURL{URL: url}})
	}
	return c.complete(ctx, []chatMessage{{Role: "user", Content: parts}})
}

// Rewrite sends a text-only chat, a system message with instruction and a
// user message with text, and returns the answer trimmed.
func (c *Client) Rewrite(ctx context.Context, instruction, text string) (string, error) {
	return c.complete(ctx, []chatMessage{
		{Role: "system", Content: instruction},
		{Role: "user", Content: text},
	})
}

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	MaxTokens   int           `json:"max_tokens"`
	Temperature float64       `json:"temperature"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"` // a string or a list of parts
}

type textPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type imagePart struct {
	Type     string   `json:"type"`
	ImageURL imageURL `json:"image_url"`
}

type imageURL struct {
	URL string `json:"url"`
}

// complete runs one chat request with retries and returns the answer.
func (c *Client) complete(ctx context.Context, messages []chatMessage) (string, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	req := chatRequest{Model: c.model, Messages: messages, MaxTokens: c.maxTokens}
	if err := enc.Encode(req); err != nil {
		return "", fmt.Errorf("caption endpoint %s: encode request: %w", c.display, err)
	}
	for attempt := 1; ; attempt++ {
		answer, failure := c.attempt(ctx, body.Bytes())
		if failure == nil {
			return answer, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("caption endpoint %s: %w", c.display, ctx.Err())
		}
		if !failure.retry || attempt > c.retries {
			msg := "caption endpoint " + c.display + ": " + failure.reason
			if attempt > 1 {
				msg = fmt.Sprintf("caption endpoint %s: gave up after %d attempts: %s", c.display, attempt, failure.reason)
			}
			return "", &endpointError{msg: msg, err: failure.err, unavailable: failure.retry}
		}
		timer := time.NewTimer(c.delay(attempt, failure.retryAfter))
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return "", fmt.Errorf("caption endpoint %s: %w", c.display, ctx.Err())
		}
	}
}

// delay is the wait before attempt+1: the server's Retry-After when it gave
// one, else Backoff doubled per attempt made, capped, with equal jitter.
func (c *Client) delay(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter >= 0 {
		return min(retryAfter, maxBackoff)
	}
	d := c.backoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// ErrUnavailable is wrapped by the error of a call that failed because the
// endpoint could not serve it (unreachable, timed out, 408, 429 or 5xx)
// through all its retries: a fault of the service, not of the request. Such
// an error also matches fault.ErrUnavailable, so curation tells it from a
// bad clip without knowing this package.
var ErrUnavailable = errors.New("caption endpoint unavailable")

// endpointError is a failed call: one line, and the cause for errors.Is.
type endpointError struct {
	msg         string
	err         error
	unavailable bool // the last failure was one worth retrying
}

func (e *endpointError) Error() string { return e.msg }

func (e *endpointError) Is(target error) bool {
	return (target == ErrUnavailable || target == fault.ErrUnavailable) && e.unavailable
}

func (e *endpointError) Unwrap() error { return e.err }

// attemptFailure is why one request attempt failed.
type attemptFailure struct {
	reason     string        // one line: "HTTP 503: overloaded", "timeout after 2m0s"
	retry      bool          // worth another attempt
	retryAfter time.Duration // the server's Retry-After; negative when absent
	err        error         // underlying cause, may be nil
}

func finalFailure(reason string) *attemptFailure {
	return &attemptFailure{reason: reason, retryAfter: -1}
}

// attempt sends the request once, holding a slot while it is in flight.
func (c *Client) attempt(ctx context.Context, body []byte) (string, *attemptFailure) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return "", &attemptFailure{reason: ctx.Err().Error(), retryAfter: -1, err: ctx.Err()}
	}
	defer func() { <-c.slots }()
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return "", &attemptFailure{reason: err.Error(), retryAfter: -1, err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", c.networkFailure(actx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return "", c.networkFailure(actx, err)
	}
	if len(data) > maxResponseBytes {
		return "", finalFailure(fmt.Sprintf("HTTP %d: response larger than %d MiB", resp.StatusCode, maxResponseBytes>>20))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", c.statusFailure(resp, data)
	}
	answer, reason := c.parseAnswer(data)
	if reason != "" {
		return "", finalFailure(reason)
	}
	return answer, nil
}

// networkFailure describes an error of the transport; all are retried.
func (c *Client) networkFailure(actx context.Context, err error) *attemptFailure {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err // its message repeats the URL, user info included
	}
	f := &attemptFailure{retry: true, retryAfter: -1, err: err}
	var netErr net.Error
	switch {
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		f.reason = "timeout after " + c.timeout.String()
	case errors.As(err, &netErr) && netErr.Timeout():
		f.reason = "timeout: " + c.oneLine(err.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		f.reason = "server closed the connection"
	default:
		f.reason = c.oneLine(err.Error())
	}
	return f
}

// statusFailure describes a response that is not 2xx.
func (c *Client) statusFailure(resp *http.Response, data []byte) *attemptFailure {
	msg := c.serverMessage(data)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	f := finalFailure(fmt.Sprintf("HTTP %d: %s", resp.StatusCode, msg))
	code := resp.StatusCode
	f.retry = code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		f.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return f
}

// parseRetryAfter reads delay-seconds or an HTTP date; -1 when absent or bad.
func parseRetryAfter(value string) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return -1
	}
	if secs, err := strconv.Atoi(value); err == nil {
		if secs < 0 {
			return -1
		}
		return time.Duration(min(secs, int(maxBackoff/time.Second))) * time.Second
	}
	if when, err := http.ParseTime(value); err == nil {
		return max(0, time.Until(when))
	}
	return -1
}

// serverMessage is the message of an error body: OpenAI's
// {"error": {"message": ...}}, Ollama's {"error": "..."}, vLLM's
// {"message": ...}, FastAPI's {"detail": ...}, or else the body's text.
func (c *Client) serverMessage(data []byte) string {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(data, &body) == nil {
		if msg := errorText(body.Error); msg != "" {
			return c.oneLine(msg)
		}
		if body.Message != "" {
			return c.oneLine(body.Message)
		}
		if msg := errorText(body.Detail); msg != "" {
			return c.oneLine(msg)
		}
	}
	return c.oneLine(string(data))
}

// errorText reads a JSON error value: a string, an object with a message,
// or anything else as its JSON text. Absent or null gives "".
func errorText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		return obj.Message
	}
	return string(raw)
}

// parseAnswer reads choices[0].message.content, a string or a list of
// text parts; reason says what is wrong when there is no answer.
func (c *Client) parseAnswer(data []byte) (answer, reason string) {
	var resp struct {
		Choices []struct {
			Message struct {
				Content json.RawMessage `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return "", "response is not JSON: " + c.oneLine(string(data))
	}
	if msg := errorText(resp.Error); msg != "" {
		return "", "server error: " + c.oneLine(msg)
	}
	if len(resp.Choices) == 0 {
		return "", "no choices in response"
	}
	content := resp.Choices[0].Message.Content
	var text string
	if len(content) > 0 && json.Unmarshal(content, &text) != nil {
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal(content, &parts) != nil {
			return "", "unexpected message content in response: " + c.oneLine(string(content))
		}
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" || p.Type == "" {
				b.WriteString(p.Text)
			}
		}
		text = b.String()
	}
	if text = strings.TrimSpace(text); text == "" {
		return "", "empty answer"
	}
	return text, ""
}

// oneLine makes server text fit an error: the API key masked, white space
// collapsed, valid UTF-8, at most maxServerText bytes.
func (c *Client) oneLine(s string) string {
	if c.apiKey != "" {
		s = strings.ReplaceAll(s, c.apiKey, "[api key]")
	}
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) > maxServerText {
		cut := maxServerText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
