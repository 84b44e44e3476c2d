package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/clipfs/clipfs/curate/daemon"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The control API of clipfs serve: HTTP on a unix socket (mode 0600) or a
// loopback port, every route behind the bearer token when one is set.
//
//	GET  /v1/status   the daemon's Status (JSON)
//	POST /v1/submit   {"paths": [...]} -> {"queued": [...], "errors": [...]}
//	POST /v1/pause    stop taking videos (those in flight finish)
//	POST /v1/resume   take videos again
//	POST /v1/seal     seal the open shard now -> {"sealed": bool}
//	GET  /metrics     Prometheus text format

// serveStatus is /v1/status: the daemon's status and where it serves.
type serveStatus struct {
	daemon.Status
	DB     string `json:"db"`
	Mount  string `json:"mount"`
	Listen string `json:"listen"`
	PID    int    `json:"pid"`
}

type submitRequest struct {
	Paths []string `json:"paths"`
}

type submitReply struct {
	Queued []string `json:"queued"`
	Errors []string `json:"errors"`
}

// controlHandler routes the API to d.
func controlHandler(d *daemon.Daemon, m *metrics, where serveStatus, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		s := where
		s.Status = d.Status()
		writeJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("POST /v1/submit", func(w http.ResponseWriter, r *http.Request) {
		var req submitRequest
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "Content-Type must be application/json"})
			return
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || len(req.Paths) == 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"paths": ["..."]}`})
			return
		}
		queued, errs := d.Submit(req.Paths)
		rep := submitReply{Queued: queued, Errors: []string{}}
		if rep.Queued == nil {
			rep.Queued = []string{}
		}
		for _, err := range errs {
			rep.Errors = append(rep.Errors, err.Error())
		}
		code := http.StatusOK
		if len(queued) == 0 && len(errs) > 0 {
			code = http.StatusBadRequest
		}
		writeJSON(w, code, rep)
	})
	mux.HandleFunc("POST /v1/pause", func(w http.ResponseWriter, r *http.Request) {
		d.Pause()
		writeJSON(w, http.StatusOK, map[string]string{"state": d.Status().State})
	})
	mux.HandleFunc("POST /v1/resume", func(w http.ResponseWriter, r *http.Request) {
		d.Resume()
		writeJSON(w, http.StatusOK, map[string]string{"state": d.Status().State})
	})
	mux.HandleFunc("POST /v1/seal", func(w http.ResponseWriter, r *http.Request) {
		sealed, err := d.Seal(context.WithoutCancel(r.Context())) // a client giving up must not cut a seal short
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"sealed": sealed})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	if token == "" {
		return mux
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="clipfs"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.MarshalIndent(v, "", "  ")
	w.Write(append(b, '\n'))
}

// listenControl opens the API's listener: "unix:PATH" (created with mode
// 0600; a stale socket left by a killed daemon is replaced) or a loopback
// "host:port".
func listenControl(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if len(path) > 107 {
			return nil, fmt.Errorf("--listen %s: a unix socket path must be under 108 bytes; give a shorter one", addr)
		}
		if st, err := os.Lstat(path); err == nil {
			if st.Mode().Type() != os.ModeSocket {
				return nil, fmt.Errorf("--listen %s: %s exists and is not a socket", addr, path)
			}
			c, err := net.DialTimeout("unix", path, time.Second)
			if err == nil {
				c.Close()
				return nil, fmt.Errorf("--listen %s: another process serves that socket", addr)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return nil, fmt.Errorf("--listen %s: %w", addr, err)
			}
			os.Remove(path) // stale: left by a killed daemon
		}
		old := syscall.Umask(0o177) // no window where the socket is open to others
		l, err := net.Listen("unix", path)
		syscall.Umask(old)
		if err != nil {
			return nil, fmt.Errorf("--listen %s: %w", addr, err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			l.Close()
			return nil, fmt.Errorf("--listen %s: %w", addr, err)
		}
		return l, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: want unix:PATH or a loopback host:port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--listen %s: the control API listens on loopback only (127.0.0.1, ::1 or localhost) or a unix socket", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	return l, nil
}

// controlClient talks to a running clipfs serve.
type controlClient struct {
	http   *http.Client
	base   string
	token  string
	listen string
}

// newControlClient finds the API: --listen if given, else the one named in
// DB/serve.json.
func newControlClient(listen, db, token string) (*controlClient, error) {
	if listen == "" {
		if db == "" {
			return nil, usageError{"give --db DIR (the database clipfs serve curates into) or --listen ADDR"}
		}
		abs, _ := filepath.Abs(db)
		s, ok := runningServe(abs)
		if !ok {
			return nil, fmt.Errorf("no clipfs serve is running on %s (start one with: clipfs serve --input DIR --db %s --mount MOUNTPOINT)", abs, abs)
		}
		listen = s.Listen
	}
	c := &controlClient{token: token, listen: listen, http: &http.Client{}} // a seal may hash a large shard: no timeout
	if path, ok := strings.CutPrefix(listen, "unix:"); ok {
		c.base = "http://clipfs"
		c.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}
	} else {
		c.base = "http://" + listen
	}
	return c, nil
}

// call sends a request and decodes the JSON reply into out; an HTTP error
// becomes an error carrying the server's message.
func (c *controlClient) call(ctx context.Context, method, path string, body, out any) error {
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
		return fmt.Errorf("clipfs serve at %s: %w", c.listen, unwrapDial(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("clipfs serve at %s: %w", c.listen, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("clipfs serve at %s refused the request: missing or wrong token (set $CLIPFS_TOKEN or --token-file)", c.listen)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error  string   `json:"error"`
			Errors []string `json:"errors"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && (e.Error != "" || len(e.Errors) > 0) {
			msg = strings.Join(append([]string{e.Error}, e.Errors...), "; ")
			msg = strings.TrimPrefix(msg, "; ")
		}
		return fmt.Errorf("clipfs serve at %s: %s", c.listen, msg)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("clipfs serve at %s: reply %s: %w", c.listen, resp.Status, err)
		}
	}
	return nil
}

func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}

// readToken is the bearer token: the file's first line, else $CLIPFS_TOKEN.
func readToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("CLIPFS_TOKEN"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	t := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	if t == "" {
		return "", fmt.Errorf("--token-file %s is empty", file)
	}
	return t, nil
}
