package s3test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Counter is a reverse proxy in front of a Server that counts the GETs of
// objects: requests reach the server unchanged (the Host header too, so
// signatures and presigned URLs made for the proxy's endpoint hold), and
// for each key it tells the bytes sent, the requests and how many asked
// for a Range. Bytes sent are bytes written to the client's connection:
// what a client that stops reading early leaves in the socket buffers is
// counted too.
type Counter struct {
	Endpoint string // http://127.0.0.1:PORT, to use instead of the server's

	mu       sync.Mutex
	reads    map[string]*Reads
	inflight int // GETs of objects not yet answered whole or abandoned
}

// Reads is what a Counter saw of one object.
type Reads struct {
	Bytes  int64           // body bytes sent
	GETs   int             // requests
	HEADs  int             // HEAD requests (stats)
	Ranged int             // requests with a Range header
	Ranges []string        // their Range headers, in order ("bytes=N-")
	Agents map[string]bool // the User-Agent products ("Lavf", "MinIO (linux; amd64) minio-go")
}

// Counter starts a counting proxy in front of s; t.Cleanup stops it. With
// the server down it answers 502, as a load balancer would.
func (s *Server) Counter(t testing.TB) *Counter {
	t.Helper()
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p := &Counter{reads: map[string]*Reads{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, key, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if r.Method == http.MethodHead && ok && bucket == s.Bucket && key != "" {
			p.mu.Lock()
			p.read(key).HEADs++
			p.mu.Unlock()
		}
		if r.Method != http.MethodGet || !ok || bucket != s.Bucket || key == "" || r.URL.Query().Has("uploads") {
			rp.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		rd := p.read(key)
		rd.GETs++
		if rg := r.Header.Get("Range"); rg != "" {
			rd.Ranged++
			rd.Ranges = append(rd.Ranges, rg)
		}
		agent, _, _ := strings.Cut(r.UserAgent(), "/")
		rd.Agents[agent] = true
		p.inflight++
		p.mu.Unlock()
		rp.ServeHTTP(&countingWriter{ResponseWriter: w, p: p, rd: rd}, r)
		p.mu.Lock()
		p.inflight--
		p.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p.Endpoint = srv.URL
	return p
}

// read is key's count, made on first use; p.mu held.
func (p *Counter) read(key string) *Reads {
	rd := p.reads[key]
	if rd == nil {
		rd = &Reads{Agents: map[string]bool{}}
		p.reads[key] = rd
	}
	return rd
}

// Reads is what the proxy saw of key (a copy), once no GET is in flight
// (a client that closed its connection early is noticed within moments),
// or after 10 s.
func (p *Counter) Reads(key string) Reads {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		p.mu.Lock()
		idle := p.inflight == 0
		p.mu.Unlock()
		if idle {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rd := p.reads[key]
	if rd == nil {
		return Reads{Agents: map[string]bool{}}
	}
	c := *rd
	c.Ranges = append([]string(nil), rd.Ranges...)
	c.Agents = map[string]bool{}
	for a := range rd.Agents {
		c.Agents[a] = true
	}
	return c
}

// Reset forgets what the proxy counted.
func (p *Counter) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads = map[string]*Reads{}
}

type countingWriter struct {
	http.ResponseWriter
	p  *Counter
	rd *Reads
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.p.mu.Lock()
	w.rd.Bytes += int64(n)
	w.p.mu.Unlock()
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
