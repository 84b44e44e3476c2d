package jobs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Auth is how a client proves itself to NATS, and whom it trusts.
type Auth struct {
	User, Password string
	Token          string
	// CAFile, if set, is the PEM bundle that a tls:// server's certificate
	// must chain to (default: the system's roots).
	CAFile string
}

// Connect connects to the NATS server or cluster at url (nats://, tls://,
// a comma-separated list for a cluster) as name. It reconnects forever:
// an unreachable server is a fault of the environment that passes.
func Connect(rawURL, name string, auth Auth, log *slog.Logger) (*nats.Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.Timeout(5 * time.Second), nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats: disconnected: " + err.Error() + "; reconnecting")
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats: reconnected to " + c.ConnectedUrlRedacted()) }),
	}
	switch {
	case auth.Token != "":
		opts = append(opts, nats.Token(auth.Token))
	case auth.User != "":
		opts = append(opts, nats.UserInfo(auth.User, auth.Password))
	}
	secure := false
	for _, u := range strings.Split(rawURL, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || p.Host == "" {
			return nil, fmt.Errorf("--nats %q: not a NATS URL (nats://HOST:PORT or tls://HOST:PORT)", u)
		}
		switch p.Scheme {
		case "nats":
		case "tls":
			secure = true
		default:
			return nil, fmt.Errorf("--nats %q: scheme %q is not nats or tls", u, p.Scheme)
		}
	}
	if secure || auth.CAFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if auth.CAFile != "" {
			pem, err := os.ReadFile(auth.CAFile)
			if err != nil {
				return nil, fmt.Errorf("--nats-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--nats-ca %s: no PEM certificate in it", auth.CAFile)
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, nats.Secure(cfg))
	}
	nc, err := nats.Connect(rawURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", rawURL, err)
	}
	return nc, nil
}

// ErrNoOwner reports a request the index owner did not answer in time:
// it is down or unreachable, a fault of the environment.
var ErrNoOwner = errors.New("the index owner (clipfs serve) did not answer")
