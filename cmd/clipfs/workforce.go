package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/broker"
	"github.com/clipfs/clipfs/curate/dispatch"
	"github.com/clipfs/clipfs/curate/jobs"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/worker"
	"github.com/clipfs/clipfs/index"
)

// workforce is what serve runs when workers curate: the NATS server
// inside it (--nats-listen) or a connection to one (--nats), the
// dispatcher and the worker inside serve (--local-workers).
type workforce struct {
	url        string
	broker     *broker.Server
	conn       *nats.Conn
	dispatcher *dispatch.Dispatcher
	local      *worker.Worker
	wg         sync.WaitGroup
	cancel     context.CancelFunc
	log        *slog.Logger
}

type workforceConfig struct {
	dbDir        string
	db           *index.DB
	nats         *natsFlags
	embedded     *embeddedFlags
	queue        jobs.Queue
	cur          *curate.Curator
	cfg          curate.Config
	recipe       curate.Recipe
	models       curate.ModelOptions
	localWorkers int
	tools        media.Tools
	stopGrace    time.Duration
	log          *slog.Logger
}

func startWorkforce(ctx context.Context, c workforceConfig) (*workforce, error) {
	w := &workforce{url: c.nats.url, log: c.log}
	if c.embedded.listen != "" {
		srv, err := c.embedded.start(c.dbDir, c.nats)
		if err != nil {
			return nil, err
		}
		w.broker, w.url = srv, srv.URL()
		c.log.Info("nats: serving JetStream on " + srv.URL() + " (store " + c.dbDir + "/nats)")
	}
	host, _ := os.Hostname()
	to := *c.nats
	to.url = w.url
	nc, err := to.connect(fmt.Sprintf("clipfs serve %s-%d", host, os.Getpid()), c.log)
	if err != nil {
		w.close()
		return nil, err
	}
	w.conn = nc
	sink := curate.NewLocalSink(c.db, c.cfg.MinFree, c.cfg.Shards)
	w.dispatcher, err = dispatch.New(ctx, dispatch.Config{Conn: nc, Queue: c.queue, DB: c.db, Curator: c.cur, Recipe: c.recipe, Sink: sink, Log: c.log})
	if err != nil {
		w.close()
		return nil, err
	}
	if c.localWorkers > 0 {
		w.local, err = worker.New(worker.Config{Conn: nc, Queue: c.queue, Name: fmt.Sprintf("serve-%s-%d", host, os.Getpid()),
			Tools: c.tools, StopGrace: c.stopGrace, Log: c.log,
			Local: curate.Local{Workers: c.localWorkers, Device: c.models.Device, Batch: c.models.Batch, MinFree: c.cfg.MinFree, APIKey: os.Getenv(apiKeyEnv)}})
		if err != nil {
			w.close()
			return nil, err
		}
	}
	return w, nil
}

// run starts the worker inside serve, until stop.
func (w *workforce) run(ctx context.Context) {
	if w.local == nil {
		return
	}
	ctx, w.cancel = context.WithCancel(ctx)
	w.wg.Go(func() {
		if err := w.local.Run(ctx); err != nil {
			w.log.Warn("the worker inside serve stopped: " + err.Error())
		}
	})
}

// abandon makes the worker inside serve give back its jobs now.
func (w *workforce) abandon() {
	if w.local != nil {
		w.local.Abandon()
	}
}

// stop stops the worker inside serve and waits for it.
func (w *workforce) stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
}

// close stops taking results and closes the connection and the server.
func (w *workforce) close() {
	w.stop()
	if w.dispatcher != nil {
		w.dispatcher.Close()
	}
	if w.conn != nil {
		w.conn.Drain()
		for w.conn.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
		w.conn.Close()
	}
	if w.broker != nil {
		w.broker.Shutdown()
	}
}
