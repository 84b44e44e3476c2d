package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// ErrUnauthorized is returned (wrapped) when the API refused a request for
// a missing or wrong token.
var ErrUnauthorized = errors.New("missing or wrong token")

// maxReply bounds the body of a reply read by the client.
const maxReply = 16 << 20

// Client talks to the control API of a running clipfs serve. Its errors
// name the address and carry the server's message.
type Client struct {
	http  *http.Client
	base  string
	token string
	addr  string
}

// NewClient returns a client of the API at addr ("unix:PATH" or
// "host:port"), sending token as a bearer token when it is not empty.
func NewClient(addr, token string) *Client {
	c := &Client{token: token, addr: addr, http: &http.Client{}} // a seal may hash a large shard: no timeout
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		c.base = "http://clipfs"
		c.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}
	} else {
		c.base = "http://" + addr
	}
	return c
}

// Status is the daemon's status and where it serves.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.call(ctx, http.MethodGet, routeStatus, nil, &s)
	return s, err
}

// Submit queues videos or folders under the daemon's input folder. The
// reply lists the videos queued and the paths refused; the error is set
// when nothing was queued.
func (c *Client) Submit(ctx context.Context, paths []string) (SubmitReply, error) {
	var rep SubmitReply
	err := c.call(ctx, http.MethodPost, routeSubmit, SubmitRequest{Paths: paths}, &rep)
	return rep, err
}

// Pause stops the daemon taking videos (those in flight finish) and
// returns its state.
func (c *Client) Pause(ctx context.Context) (string, error) {
	var rep stateReply
	err := c.call(ctx, http.MethodPost, routePause, struct{}{}, &rep)
	return rep.State, err
}

// Resume lets the daemon take videos again and returns its state.
func (c *Client) Resume(ctx context.Context) (string, error) {
	var rep stateReply
	err := c.call(ctx, http.MethodPost, routeResume, struct{}{}, &rep)
	return rep.State, err
}

// Seal seals the open shard now; false when it held no sample.
func (c *Client) Seal(ctx context.Context) (bool, error) {
	var rep sealReply
	err := c.call(ctx, http.MethodPost, routeSeal, struct{}{}, &rep)
	return rep.Sealed, err
}

// call sends a request and decodes the JSON reply into out; an HTTP error
// becomes an error carrying the server's message.
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("clipfs serve at %s: %w", c.addr, unwrapDial(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return fmt.Errorf("clipfs serve at %s: %w", c.addr, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("clipfs serve at %s refused the request: %w", c.addr, ErrUnauthorized)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("clipfs serve at %s: %s", c.addr, refusal(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("clipfs serve at %s: reply %s: %w", c.addr, resp.Status, err)
		}
	}
	return nil
}

// refusal is the server's message in an error reply: its "error" and
// "errors", or the raw body when it is not such JSON.
func refusal(raw []byte) string {
	var e struct {
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error == "" && len(e.Errors) == 0 {
		return strings.TrimSpace(string(raw))
	}
	return strings.TrimPrefix(strings.Join(append([]string{e.Error}, e.Errors...), "; "), "; ")
}

// unwrapDial drops the url.Error around a failed dial: its operation and
// address say enough.
func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}
