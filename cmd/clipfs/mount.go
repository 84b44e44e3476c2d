package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/fs/mount"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/blobcache"
	"github.com/clipfs/clipfs/index/s3store"
)

func runMount(ctx context.Context, args []string, stderr io.Writer) error {
	flags := newFlags("mount", "mount --db DIR MOUNTPOINT | mount s3://BUCKET/PREFIX MOUNTPOINT [flags]", stderr)
	dbDir := flags.String("db", "", "database folder written by clipfs curate")
	out := flags.String("output-path", "", "output root written into clip_location (default: the mountpoint)")
	debug := flags.Bool("debug", false, "log every FUSE request")
	noPassthrough := flags.Bool("no-passthrough", false, "serve clip media by read calls instead of FUSE passthrough")
	noSplice := flags.Bool("no-splice", false, "copy file data into FUSE replies instead of splicing it from the blob files")
	verbose := flags.Bool("verbose", false, "log mount events")
	allowOther := flags.Bool("allow-other", false, "let users other than the one who mounts read the tree (a non-root mount needs user_allow_other in /etc/fuse.conf)")
	cf := addCacheFlags(flags, "the user's cache folder, clipfs/mount/SERVER/BUCKET/PREFIX for s3://, clipfs/db/SERVER/BUCKET/PREFIX for --db")
	poll := flags.Duration("poll", 5*time.Second, "s3: how often to look for what the database's owner published")
	pos, err := parse(flags, args)
	if err != nil {
		return err
	}
	log := newLogger(stderr, *verbose)
	servingGC()
	opts := mount.Options{Out: absOrEmpty(*out), Debug: *debug, NoPassthrough: *noPassthrough, NoSplice: *noSplice, AllowOther: *allowOther, Logger: log}
	if len(pos) == 2 && strings.HasPrefix(pos[0], "s3://") && *dbDir == "" {
		if *poll <= 0 {
			return usageError{"--poll must be a positive duration"}
		}
		cache, err := cf.cache()
		if err != nil {
			return err
		}
		return mountStore(ctx, pos[0], pos[1], cache, *poll, opts, log, stderr)
	}
	if *dbDir == "" || len(pos) != 1 {
		return usageError{"mount needs --db DIR and one MOUNTPOINT, or s3://BUCKET/PREFIX and a MOUNTPOINT"}
	}
	if abs, err := filepath.Abs(*dbDir); err == nil {
		if s, ok := runningServe(abs); ok {
			return fmt.Errorf("database %s is served by clipfs serve (pid %d) at %s: read it there", abs, s.PID, s.Mount)
		}
	}
	cache, err := cf.cache()
	if err != nil {
		return err
	}
	cache.mount = true
	db, err := openDB(ctx, *dbDir, "", index.Options{ReadOnly: true, Logger: log}, cache)
	if err != nil {
		return err
	}
	defer db.close()
	srv, err := mount.Mount(db.DB, pos[0], opts)
	if err != nil {
		return err
	}
	from := ""
	if db.cache != nil {
		from = fmt.Sprintf(", blobs from %s through a cache in %s, at most %s", db.store.URI(), filepath.Dir(db.cache.Dir()), fault.FormatSize(cache.size))
	}
	fmt.Fprintf(stderr, "clipfs: serving %s at %s (read-only%s); stop with Ctrl-C or %s %s\n", db.Dir(), srv.Mountpoint, from, umountCommand(), srv.Mountpoint)
	serveMount(ctx, srv, log)
	return nil
}

// A read through an s3 mount that the server cannot serve fails with EIO
// within a bounded time, not after minutes of retries: the cache tries a
// read mountCacheAttempts times, each try bounded by the cache's Timeout
// (30 s) and made of at most mountAttempts requests (backoff 0.2 s
// doubling, at most 1 s), each cancelled after mountRequestTimeout without
// progress. With the server killed (connections refused) a cold read of a
// clip gives EIO after 4-5 s and one of a shard after 6-9 s, measured on 2
// cores (TestObjectStorageServerKilledDuringColdRead; the defaults, 3 × 10
// requests, took 15 s and 27 s); with a server that accepts and then
// hangs, after at most 2 × 30 s.
const (
	mountAttempts       = 5
	mountRequestTimeout = 10 * time.Second
	mountCacheAttempts  = 2
)

// mountStore mounts the tree of a database that publishes to object
// storage (uri, s3://BUCKET/PREFIX), on any machine: a replica of the
// index, bootstrapped from PREFIX/index/ and following what the owner
// publishes every poll (the kernel's caches invalidated as serve does),
// and blobs read through the cache (its folder also holds the replica).
func mountStore(ctx context.Context, uri, mnt string, spec *blobCache, poll time.Duration, opts mount.Options, log *slog.Logger, stderr io.Writer) error {
	_, err := s3store.ParseURI(uri)
	if err != nil {
		return usageError{err.Error()}
	}
	st, err := s3store.Open(ctx, uri, s3store.Options{Logger: log, Attempts: mountAttempts, RequestTimeout: mountRequestTimeout})
	if err != nil {
		return err
	}
	cacheDir := spec.dir
	if cacheDir == "" {
		if cacheDir, err = cacheFolder("mount", st); err != nil {
			return err
		}
	}
	objects, err := st.Sub("index")
	if err != nil {
		return err
	}
	copts := blobcache.DefaultOptions()
	copts.Attempts, copts.Log = mountCacheAttempts, log
	cache, err := blobcache.New(st, filepath.Join(cacheDir, "blobs"), spec.size, copts)
	if err != nil {
		return err
	}
	defer cache.Close()
	r, err := index.OpenReplica(ctx, objects, filepath.Join(cacheDir, "index"), index.ReplicaOptions{Blobs: cache, Logger: log})
	if err != nil {
		return err
	}
	defer r.Close()
	follow, stop := context.WithCancel(ctx)
	defer stop()
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		r.Follow(follow, poll)
	}()
	opts.Live = true
	srv, err := mount.Mount(r.DB(), mnt, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "clipfs: serving %s at %s (read-only, following it every %s; cache in %s, at most %s); stop with Ctrl-C or %s %s\n",
		uri, srv.Mountpoint, poll, cacheDir, fault.FormatSize(spec.size), umountCommand(), srv.Mountpoint)
	serveMount(ctx, srv, log)
	stop()
	<-followed
	return nil
}

func umountCommand() string {
	if os.Geteuid() != 0 {
		return "fusermount3 -u"
	}
	return "umount"
}

// serveMount serves until the mount is unmounted from outside or ctx is
// done, then unmounts it.
func serveMount(ctx context.Context, srv *mount.Server, log *slog.Logger) {
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-done: // unmounted from outside
	case <-ctx.Done():
		unmount(srv, srv.Mountpoint, log)
		<-done
	}
}

// unmount detaches the mount, lazily if it stays busy for a few seconds.
func unmount(srv *mount.Server, mnt string, log interface{ Info(string, ...any) }) {
	for range 20 {
		if srv.Unmount() == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	log.Info("mount busy; detaching it lazily", "mountpoint", mnt)
	if err := mount.Detach(mnt); err != nil {
		log.Info("lazy unmount failed", "mountpoint", mnt, "err", err)
	}
}

func absOrEmpty(p string) string {
	if p == "" || strings.Contains(p, "://") { // a URI (s3://...), as NeMo records an output_path
		return p
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// mountGCPercent is the garbage collector's GOGC for `clipfs mount` (a
// process that only serves): the heap may grow half past what is live
// instead of doubling. Its largest live memory, the node table of a big
// listing, holds no pointers, so the extra collections cost little: on 1 M
// clips it lowered the mount's peak anonymous memory from 162 to 132 MiB
// and left the cold `ls -l` as fast.
const mountGCPercent = 50

// servingGC sets mountGCPercent unless GOGC is set.
func servingGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(mountGCPercent)
	}
}
