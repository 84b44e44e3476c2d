package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/clipfs/clipfs/curate/daemon"
)

// Daemon is what the API controls; *daemon.Daemon is one.
type Daemon interface {
	Status() daemon.Status
	Submit(paths []string) (queued []string, errs []error)
	Pause()
	Resume()
	Seal(ctx context.Context) (sealed bool, err error)
}

// Options configure the handler.
type Options struct {
	// Where is reported by /v1/status beside the daemon's status.
	Where Where
	// Token, if set, is the bearer token every route needs.
	Token string
	// Metrics, if set, serves GET /metrics (clipfs serve's Prometheus
	// registry: this package knows no metrics library).
	Metrics http.Handler
}

// maxSubmitBody bounds the body of a submit.
const maxSubmitBody = 1 << 20

// Handler routes the API to d.
func Handler(d Daemon, o Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+routeStatus, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Status{Status: d.Status(), Where: o.Where})
	})
	mux.HandleFunc("POST "+routeSubmit, func(w http.ResponseWriter, r *http.Request) { submit(d, w, r) })
	mux.HandleFunc("POST "+routePause, func(w http.ResponseWriter, r *http.Request) {
		d.Pause()
		writeJSON(w, http.StatusOK, stateReply{d.Status().State})
	})
	mux.HandleFunc("POST "+routeResume, func(w http.ResponseWriter, r *http.Request) {
		d.Resume()
		writeJSON(w, http.StatusOK, stateReply{d.Status().State})
	})
	mux.HandleFunc("POST "+routeSeal, func(w http.ResponseWriter, r *http.Request) {
		sealed, err := d.Seal(context.WithoutCancel(r.Context())) // a client giving up must not cut a seal short
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorReply{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, sealReply{sealed})
	})
	if o.Metrics != nil {
		mux.Handle("GET "+routeMetrics, o.Metrics)
	}
	if o.Token == "" {
		return mux
	}
	return requireToken(o.Token, mux)
}

// submit queues the paths of a SubmitRequest. It answers 400 when nothing
// could be queued.
func submit(d Daemon, w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, errorReply{"Content-Type must be application/json"})
		return
	}
	var req SubmitRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxSubmitBody)).Decode(&req); err != nil || len(req.Paths) == 0 {
		writeJSON(w, http.StatusBadRequest, errorReply{`body must be {"paths": ["..."]}`})
		return
	}
	queued, errs := d.Submit(req.Paths)
	rep := SubmitReply{Queued: queued, Errors: []string{}}
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
}

// requireToken refuses requests without "Authorization: Bearer token".
func requireToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="clipfs"`)
			writeJSON(w, http.StatusUnauthorized, errorReply{"missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeJSON writes v indented, with a final newline.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.MarshalIndent(v, "", "  ")
	w.Write(append(b, '\n'))
}
