package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/control"
	"github.com/clipfs/clipfs/curate/daemon"
	"github.com/clipfs/clipfs/fs/mount"
	"github.com/clipfs/clipfs/index"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	flags := newFlags("serve", "serve --input DIR --db DIR --mount MOUNTPOINT [flags]", stderr)
	co := curateFlags(flags)
	mnt := flags.String("mount", "", "where to mount the tree (an existing empty folder)")
	listen := flags.String("listen", "", "control API: unix:PATH or a loopback host:port (default unix:DB/clipfs.sock)")
	tokenFile := flags.String("token-file", "", "require this bearer token (the file's first line) on the control API (default $CLIPFS_TOKEN; none if unset)")
	watchInput := flags.Bool("watch", true, "follow the input folder for new and changed videos (inotify, with a periodic rescan)")
	settle := flags.Duration("settle", 2*time.Second, "a video is curated once its size and mtime have not changed for this long")
	openWrite := flags.Duration("open-write", 30*time.Second, "... or, if its writer still holds it open, for this long")
	rescan := flags.Duration("rescan", time.Minute, "walk the input folder this often to catch changes inotify missed (0: never)")
	videos := flags.Int("videos", 0, "videos curated at once (default: --workers)")
	sealAfter := flags.Duration("seal-after", 0, "seal the open WebDataset shard once curation has been idle this long (0: only when full or on `clipfs seal`)")
	stopGrace := flags.Duration("stop-grace", 10*time.Second, "on SIGTERM, how long videos in hand may finish before their chunks are abandoned")
	out := flags.String("output-path", "", "output root written into clip_location (default: the mountpoint)")
	noPassthrough := flags.Bool("no-passthrough", false, "serve clip media by read calls instead of FUSE passthrough")
	noSplice := flags.Bool("no-splice", false, "copy file data into FUSE replies instead of splicing it from the blob files")
	allowOther := flags.Bool("allow-other", false, "let users other than the one who mounts read the tree (a non-root mount needs user_allow_other in /etc/fuse.conf)")
	verbose := flags.Bool("verbose", false, "log every clip")
	cf := addCacheFlags(flags, "the user's cache folder, clipfs/db/SERVER/BUCKET/PREFIX")
	nf := addNATSFlags(flags, true)
	ef := addEmbeddedFlags(flags)
	localWorkers := flags.Int("local-workers", runtime.NumCPU(), "with --nats or --nats-listen: ffmpeg slots of the worker inside serve (0: serve curates nothing itself, the workers do all)")
	pos, err := parse(flags, args)
	if err != nil {
		return err
	}
	if co.cfg.Input == "" || co.db == "" || *mnt == "" || len(pos) > 0 {
		return usageError{"serve needs --input DIR, --db DIR and --mount MOUNTPOINT"}
	}
	if isBucketInput(co.cfg.Input) {
		return usageError{fmt.Sprintf("serve --input takes a folder to watch, not %s: curate a bucket with `clipfs curate --input %s --db DIR` (run it again to pick up new or replaced videos)", co.cfg.Input, co.cfg.Input)}
	}
	if nf.url != "" && ef.listen != "" {
		return usageError{"give --nats URL (a NATS server that runs already) or --nats-listen HOST:PORT (one inside serve), not both"}
	}
	workersMode := nf.url != "" || ef.listen != ""
	if !workersMode && flagSet(flags, "local-workers") {
		return usageError{"--local-workers needs --nats or --nats-listen"}
	}
	if *localWorkers < 0 {
		return usageError{"--local-workers must be 0 or more"}
	}
	q, err := nf.queueConfig()
	if err != nil {
		return err
	}
	if *rescan == 0 {
		*rescan = -1
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return err
	}
	if _, unix := strings.CutPrefix(*listen, "unix:"); *listen != "" && !unix && token == "" {
		return usageError{"--listen host:port needs a token (--token-file or $CLIPFS_TOKEN): any local user or web page could reach it otherwise"}
	}
	dbDir, err := filepath.Abs(co.db)
	if err != nil {
		return err
	}
	if err := refuseIfServed(dbDir); err != nil {
		return err
	}
	log := newLogger(stderr, *verbose)
	cfg, loaded, err := co.config(flags, log)
	if err != nil {
		return err
	}
	defer loaded.Close()

	cache, err := cf.cache()
	if err != nil {
		return err
	}
	db, err := openDB(ctx, dbDir, *co.store, index.Options{Create: true, Logger: log}, cache)
	if errors.Is(err, index.ErrLocked) {
		return fmt.Errorf("%w (is a clipfs curate or mount using it? stop it first)", err)
	} else if err != nil {
		return err
	}
	closeDB := true // not while the FUSE server may still read it
	defer func() {
		if closeDB {
			db.close()
		}
	}()
	if *listen == "" {
		*listen = "unix:" + filepath.Join(dbDir, "clipfs.sock")
	}
	ln, err := control.Listen(*listen)
	if err != nil {
		return fmt.Errorf("--listen %w", err)
	}
	defer func() {
		if p, ok := strings.CutPrefix(*listen, "unix:"); ok {
			os.Remove(p)
		}
	}()

	m := newMetrics()
	cfg.Observer = m
	cur, err := curate.NewCurator(db.DB, co.tools, cfg)
	if err != nil {
		return err
	}
	var crew *workforce
	if workersMode {
		crew, err = startWorkforce(ctx, workforceConfig{dbDir: dbDir, db: db.DB, nats: nf, embedded: ef, queue: q, cur: cur, cfg: cfg,
			recipe: curate.RecipeOf(cfg, co.models.options(), co.captions.recipe()), models: co.models.options(),
			localWorkers: *localWorkers, tools: co.tools, stopGrace: *stopGrace, log: log})
		if err != nil {
			return err
		}
		defer crew.close()
	}
	dcfg := daemon.Config{Curator: cur, DB: db.DB, Watch: *watchInput, Settle: *settle, OpenWrite: *openWrite,
		Rescan: *rescan, Videos: *videos, SealAfter: *sealAfter, StopGrace: *stopGrace, Log: log}
	if crew != nil {
		dcfg.Dispatch = crew.dispatcher
	}
	d, err := daemon.New(dcfg)
	if err != nil {
		return err
	}
	m.follow(d)

	srv, err := mount.Mount(db.DB, *mnt, mount.Options{Out: absOrEmpty(*out), NoPassthrough: *noPassthrough, NoSplice: *noSplice, AllowOther: *allowOther, Logger: log,
		Live: true, Observe: m.fuseOp})
	if err != nil {
		return err
	}
	where := control.Where{DB: dbDir, Mount: srv.Mountpoint, Listen: *listen, PID: os.Getpid()}
	handler := control.Handler(d, control.Options{Where: where, Token: token, Metrics: m.handler()})
	api := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go api.Serve(ln)
	if err := writeServing(dbDir, serving{PID: os.Getpid(), Listen: *listen, Input: cur.Input(), Mount: srv.Mountpoint, Started: time.Now()}); err != nil {
		log.Warn("cannot write " + servedFile + ": clipfs status and submit need --listen " + *listen)
	}
	defer removeServing(dbDir)
	fmt.Fprintf(stderr, "clipfs: serving %s at %s, curating %s; control API at %s; stop with SIGTERM or Ctrl-C\n",
		dbDir, srv.Mountpoint, cur.Input(), *listen)
	if crew != nil {
		fmt.Fprintf(stderr, "clipfs: handing videos to workers on %s (queue %s); start more with: clipfs worker --nats %s\n",
			crew.url, q.JobsStream(), crew.url)
	}

	unmounted := make(chan struct{})
	go func() { srv.Wait(); close(unmounted) }()
	work, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-unmounted:
			log.Warn("the mount at " + srv.Mountpoint + " was unmounted from outside; stopping")
			stop()
		case <-work.Done():
		}
	}()
	// The first SIGINT/SIGTERM stops gracefully (ctx); a second abandons
	// the videos in hand at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for n := 1; ; n++ {
			select {
			case <-sigs:
				switch n {
				case 2:
					log.Info("second signal: abandoning the videos in hand (a third exits at once)")
					d.Abandon()
					if crew != nil {
						crew.abandon()
					}
				case 3:
					log.Info("third signal: exiting now; committed chunks are kept")
					os.Exit(exitInterrupted)
				}
			case <-unmounted:
				return
			}
		}
	}()

	// A database in object storage publishes its index within 5 s
	// of a commit (publishInterval), for mounts elsewhere; once more at the end.
	go db.publishEvery(work, publishInterval, log.Warn)
	if crew != nil {
		crew.run(work)
	}
	runErr := d.Run(work)
	if crew != nil {
		crew.stop() // the worker inside gives back or finishes its jobs; their results are committed
		// No more commits: what workers send from now on waits in the
		// results stream for the next start, after the last publish below.
		crew.dispatcher.Close()
	}
	if err := db.publish(context.WithoutCancel(ctx)); err != nil {
		log.Warn(err.Error())
	}
	log.Info("curation stopped; unmounting " + srv.Mountpoint)
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	api.Shutdown(shutdown)
	cancel()
	select {
	case <-unmounted:
	default:
		unmount(srv, srv.Mountpoint, log)
		select {
		case <-unmounted:
		case <-time.After(3 * time.Second):
			// Detached lazily: files still open on it fail from now on. The
			// database stays open to the end (committed data is durable).
			log.Info("files were still open on the detached mount; stopping anyway")
			closeDB = false
		}
	}
	log.Info("unmounted; stopped")
	return runErr
}
