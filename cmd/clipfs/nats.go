package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/clipfs/clipfs/curate/broker"
	"github.com/clipfs/clipfs/curate/jobs"
)

// Secrets of NATS come from the environment (a flag would show them in ps).
const (
	natsPasswordEnv = "CLIPFS_NATS_PASSWORD"
	natsTokenEnv    = "CLIPFS_NATS_TOKEN"
)

// natsFlags are the flags that reach a NATS server, shared by serve and
// worker.
type natsFlags struct {
	url, user, ca, queue string
	ackWait              time.Duration
	maxDeliver           int
}

func addNATSFlags(fs *flag.FlagSet, owner bool) *natsFlags {
	f := &natsFlags{}
	if owner {
		fs.StringVar(&f.url, "nats", "", "hand videos to workers through this NATS server or cluster (nats://HOST:PORT, tls://..., comma-separated for a cluster) instead of curating them only here")
	} else {
		fs.StringVar(&f.url, "nats", "", "the NATS server the index owner (clipfs serve) uses (nats://HOST:PORT, tls://...)")
	}
	fs.StringVar(&f.user, "nats-user", "", "NATS user (password in $"+natsPasswordEnv+"); or a token in $"+natsTokenEnv)
	fs.StringVar(&f.ca, "nats-ca", "", "PEM file of the CA a tls:// NATS server's certificate must chain to (default: the system's)")
	fs.StringVar(&f.queue, "queue", jobs.DefaultName, "name of the job queue on the NATS server (streams NAME_JOBS and NAME_RESULTS), so that several databases can share one server")
	if owner {
		fs.DurationVar(&f.ackWait, "ack-wait", jobs.DefaultAckWait, "a job is redelivered to another worker when its worker has been silent this long (workers heartbeat well within it)")
		fs.IntVar(&f.maxDeliver, "max-deliver", jobs.DefaultMaxDeliver, "deliveries of a job before it is recorded as failed (input failures) or retried later (the workers' faults)")
	}
	return f
}

func (f *natsFlags) auth() jobs.Auth {
	return jobs.Auth{User: f.user, Password: os.Getenv(natsPasswordEnv), Token: os.Getenv(natsTokenEnv), CAFile: f.ca}
}

func (f *natsFlags) queueConfig() (jobs.Queue, error) {
	q, err := jobs.Queue{Name: f.queue, AckWait: f.ackWait, MaxDeliver: f.maxDeliver}.Normalised()
	if err != nil {
		return q, usageError{"--queue: " + err.Error()}
	}
	return q, nil
}

func (f *natsFlags) connect(name string, log *slog.Logger) (*nats.Conn, error) {
	if f.user != "" && os.Getenv(natsPasswordEnv) == "" {
		return nil, usageError{"--nats-user needs the password in $" + natsPasswordEnv}
	}
	return jobs.Connect(f.url, name, f.auth(), log)
}

// embeddedFlags are serve's flags of the NATS server it runs itself.
type embeddedFlags struct {
	listen, cert, key string
	noAuth            bool
}

func addEmbeddedFlags(fs *flag.FlagSet) *embeddedFlags {
	e := &embeddedFlags{}
	fs.StringVar(&e.listen, "nats-listen", "", "run a NATS server with JetStream inside serve on HOST:PORT (its store in DB/nats) and hand videos to workers through it; without a user or token it must be a loopback address")
	fs.StringVar(&e.cert, "nats-tls-cert", "", "certificate (PEM) of the --nats-listen server: clients then connect with tls://")
	fs.StringVar(&e.key, "nats-tls-key", "", "key (PEM) of --nats-tls-cert")
	fs.BoolVar(&e.noAuth, "nats-no-auth", false, "let --nats-listen take clients without a user or token on a non-loopback address (a trusted network only)")
	return e
}

// start runs the embedded server for the database in dbDir.
func (e *embeddedFlags) start(dbDir string, n *natsFlags) (*broker.Server, error) {
	a := n.auth()
	if n.user != "" && a.Password == "" {
		return nil, usageError{"--nats-user needs the password in $" + natsPasswordEnv}
	}
	srv, err := broker.Start(broker.Options{Listen: e.listen, StoreDir: filepath.Join(dbDir, "nats"),
		User: n.user, Password: a.Password, Token: a.Token, NoAuth: e.noAuth, CertFile: e.cert, KeyFile: e.key})
	if err != nil {
		return nil, fmt.Errorf("--nats-listen: %w", err)
	}
	return srv, nil
}
