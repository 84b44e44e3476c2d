package s3test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Proxy is a Toxiproxy TCP proxy, run in this process, in front of a
// Server's S3 port: clients pointed at Endpoint (Env) reach the server
// through it, and its toxics add latency, cut or reset connections and
// limit bandwidth on every connection it carries, the open ones included.
// It lives until the test ends, so a child process may use it.
type Proxy struct {
	Endpoint string // http://127.0.0.1:PORT, the proxy

	srv *Server
	t   testing.TB
	p   *toxiproxy.Proxy
}

// Proxy starts a proxy on a free loopback port in front of the server;
// t.Cleanup stops it. It has no toxic until one is added: it passes
// bytes through unchanged.
func (s *Server) Proxy(t testing.TB) *Proxy {
	t.Helper()
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	upstream := strings.TrimPrefix(s.Endpoint, "http://")
	p := toxiproxy.NewProxy(api, "s3", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("s3test: proxy to %s: %v", upstream, err)
	}
	t.Cleanup(p.Stop)
	if _, _, err := net.SplitHostPort(p.Listen); err != nil {
		t.Fatalf("s3test: proxy listens on %q: %v", p.Listen, err)
	}
	return &Proxy{Endpoint: "http://" + p.Listen, srv: s, t: t, p: p}
}

// Env is the server's Env with the endpoint replaced by the proxy's.
func (p *Proxy) Env() []string {
	env := p.srv.Env()
	for i, kv := range env {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL=") {
			env[i] = "AWS_ENDPOINT_URL=" + p.Endpoint
		}
	}
	return env
}

// Toxic adds toxic name of type typ (latency, bandwidth, limit_data,
// reset_peer, timeout, slicer, slow_close) on stream ("downstream":
// server to client, or "upstream") with its attributes; toxicity is the
// fraction of connections it acts on, each drawn when the connection
// opens (or when the toxic is added to an open one).
func (p *Proxy) Toxic(name, typ, stream string, toxicity float32, attrs map[string]any) {
	p.t.Helper()
	b, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "toxicity": toxicity, "attributes": attrs})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
		p.t.Fatalf("s3test: toxic %s: %v", name, err)
	}
}

// Latency delays every chunk of bytes from the server by d (± jitter).
func (p *Proxy) Latency(d, jitter time.Duration) {
	p.t.Helper()
	p.Toxic("latency", "latency", "downstream", 1, map[string]any{"latency": d.Milliseconds(), "jitter": jitter.Milliseconds()})
}

// CutAfter resets a fraction of the connections once the server has
// sent n bytes over them: a response cut in its headers or its body. The
// close is a TCP reset, not a FIN (the reset_peer toxic beside it, on no
// connection itself, makes Toxiproxy close both ends with SO_LINGER 0).
func (p *Proxy) CutAfter(n int64, fraction float32) {
	p.t.Helper()
	p.Toxic("cut", "limit_data", "downstream", fraction, map[string]any{"bytes": n})
	p.Toxic("cut_rst", "reset_peer", "downstream", 0, map[string]any{"timeout": 0})
}

// Reset resets a fraction of the connections (TCP RST) after after from
// the first bytes of a request, before the server sees it.
func (p *Proxy) Reset(after time.Duration, fraction float32) {
	p.t.Helper()
	p.Toxic("reset", "reset_peer", "upstream", fraction, map[string]any{"timeout": after.Milliseconds()})
}

// Bandwidth limits what the server sends to kbps KB/s per connection.
func (p *Proxy) Bandwidth(kbps int64) {
	p.t.Helper()
	p.Toxic("bandwidth", "bandwidth", "downstream", 1, map[string]any{"rate": kbps})
}

// Clear removes every toxic: the proxy passes bytes through again.
func (p *Proxy) Clear() {
	p.t.Helper()
	p.p.Toxics.ResetToxics(context.Background())
}
