package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// errStalled is the cause of a request cancelled by its watchdog.
type errStalled struct{ after time.Duration }

func (e errStalled) Error() string {
	return fmt.Sprintf("no progress for %s (request timeout)", e.after)
}

// stallTransport gives every request a watchdog: a request that makes no
// progress for timeout (no connection, no response headers, no byte of
// its body sent, no byte of the response read) is cancelled. A long
// transfer that keeps moving is never cut; a dead server or a hung
// connection is, and the client retries.
type stallTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watchdog{cancel: cancel, timeout: t.timeout}
	w.timer = time.AfterFunc(t.timeout, func() { cancel(errStalled{t.timeout}) })
	req = req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &progressBody{ReadCloser: req.Body, w: w}
	}
	res, err := t.base.RoundTrip(req)
	if err != nil {
		w.done()
		return nil, w.explain(ctx, err)
	}
	w.kick()
	res.Body = &progressBody{ReadCloser: res.Body, w: w, ctx: ctx, closes: true}
	return res, nil
}

// watchdog cancels its request when not kicked for timeout.
type watchdog struct {
	timer   *time.Timer
	timeout time.Duration
	cancel  context.CancelCauseFunc
	once    sync.Once
}

func (w *watchdog) kick() { w.timer.Reset(w.timeout) }

func (w *watchdog) done() {
	w.once.Do(func() {
		w.timer.Stop()
		w.cancel(nil)
	})
}

// explain names the watchdog as the reason when it cancelled the request.
func (w *watchdog) explain(ctx context.Context, err error) error {
	var stalled errStalled
	if errors.As(context.Cause(ctx), &stalled) && !errors.As(err, &stalled) {
		return stalled
	}
	return err
}

// progressBody kicks the watchdog on every read that moves bytes; the
// response's body ends the watchdog when closed.
type progressBody struct {
	io.ReadCloser
	w      *watchdog
	ctx    context.Context
	closes bool
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.kick()
	}
	if err != nil && err != io.EOF && b.ctx != nil {
		err = b.w.explain(b.ctx, err)
	}
	return n, err
}

func (b *progressBody) Close() error {
	err := b.ReadCloser.Close()
	if b.closes {
		b.w.done()
	}
	return err
}
