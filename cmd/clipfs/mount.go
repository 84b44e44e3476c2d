package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/clipfs/clipfs/fs/mount"
	"github.com/clipfs/clipfs/index"
)

func runMount(ctx context.Context, args []string, stderr io.Writer) error {
	flags := newFlags("mount", "mount --db DIR MOUNTPOINT [flags]", stderr)
	dbDir := flags.String("db", "", "database folder written by clipfs curate")
	out := flags.String("output-path", "", "output root written into clip_location (default: the mountpoint)")
	debug := flags.Bool("debug", false, "log every FUSE request")
	noPassthrough := flags.Bool("no-passthrough", false, "serve clip media by read calls instead of FUSE passthrough")
	verbose := flags.Bool("verbose", false, "log mount events")
	allowOther := flags.Bool("allow-other", false, "let users other than the one who mounts read the tree (a non-root mount needs user_allow_other in /etc/fuse.conf)")
	pos, err := parse(flags, args)
	if err != nil {
		return err
	}
	if *dbDir == "" || len(pos) != 1 {
		return usageError{"mount needs --db DIR and one MOUNTPOINT"}
	}
	if abs, err := filepath.Abs(*dbDir); err == nil {
		if s, ok := runningServe(abs); ok {
			return fmt.Errorf("database %s is served by clipfs serve (pid %d) at %s: read it there", abs, s.PID, s.Mount)
		}
	}
	log := newLogger(stderr, *verbose)
	db, err := openDB(ctx, *dbDir, "", index.Options{ReadOnly: true, Logger: log})
	if err != nil {
		return err
	}
	defer db.close()
	srv, err := mount.Mount(db.DB, pos[0], mount.Options{Out: absOrEmpty(*out), Debug: *debug, NoPassthrough: *noPassthrough, AllowOther: *allowOther, Logger: log})
	if err != nil {
		return err
	}
	mnt := srv.Mountpoint
	umount := "umount"
	if os.Geteuid() != 0 {
		umount = "fusermount3 -u"
	}
	fmt.Fprintf(stderr, "clipfs: serving %s at %s (read-only); stop with Ctrl-C or %s %s\n", db.Dir(), mnt, umount, mnt)
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-done: // unmounted from outside
	case <-ctx.Done():
		unmount(srv, mnt, log)
		<-done
	}
	return nil
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
	if p == "" {
		return ""
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
