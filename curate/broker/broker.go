package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure the embedded server.
type Options struct {
	Listen   string // HOST:PORT of the client listener (port 0: any free one)
	StoreDir string // JetStream's file store
	// User and Password, or Token, are required of clients; with neither,
	// Listen must be a loopback address unless NoAuth says otherwise.
	User, Password, Token string
	NoAuth                bool
	// CertFile and KeyFile, if set, make the listener TLS only (clients
	// connect with tls://).
	CertFile, KeyFile string
}

// Server is a running embedded NATS server.
type Server struct {
	s   *server.Server
	tls bool
}

// Start starts the server and waits until it takes connections.
func Start(o Options) (*Server, error) {
	host, portText, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: want HOST:PORT: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("--nats-listen %q: bad port", o.Listen)
	}
	authed := o.Token != "" || o.User != ""
	if !authed && !o.NoAuth && !loopback(host) {
		return nil, fmt.Errorf("--nats-listen %s is not a loopback address and no NATS user or token is set: any machine on the network could queue and take jobs (set --nats-user/CLIPFS_NATS_PASSWORD or CLIPFS_NATS_TOKEN, or --nats-no-auth if the network is trusted)", o.Listen)
	}
	if o.User != "" && o.Password == "" {
		return nil, errors.New("--nats-user needs a password ($CLIPFS_NATS_PASSWORD)")
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "clipfs", Host: host, Port: port, JetStream: true, StoreDir: o.StoreDir,
		NoSigs: true, NoLog: true, MaxPayload: 8 << 20,
		Username: o.User, Password: o.Password, Authorization: o.Token,
	}
	s := &Server{}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--nats-tls-cert/--nats-tls-key: %w", err)
		}
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		opts.TLS = true
		s.tls = true
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats server on %s did not start (is the port in use?)", o.Listen)
	}
	s.s = ns
	return s, nil
}

// URL is how clients reach the server (nats:// or tls://).
func (s *Server) URL() string {
	u := s.s.ClientURL() // tls:// already when the listener is TLS
	if rest, ok := strings.CutPrefix(u, "nats://"); ok && s.tls {
		u = "tls://" + rest
	}
	return u
}

// Addr is the listener's HOST:PORT.
func (s *Server) Addr() string { return s.s.Addr().String() }

// Shutdown stops the server, waiting until its store is closed.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
