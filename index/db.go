package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"
)

// Options configure Open. The zero value opens an existing database for
// reading and writing.
type Options struct {
	// Create makes the database folder when it does not exist.
	Create bool
	// ReadOnly opens without writing (several read-only openers may share it).
	ReadOnly bool
	// Logger receives Badger's warnings and the orphan sweep's report; nil is silent.
	Logger *slog.Logger
	// Blobs is where the media blobs live; nil is the database's own
	// folder, NewFolderStore(DIR/blobs). Open sweeps it of blobs no key
	// references (unless ReadOnly), so a store holds one database's blobs.
	Blobs BlobStore
	// BlobsURI names Blobs ("s3://bucket/prefix"). A new database records
	// it (DB/STORE) and claims the store; later opens must name the same
	// store (StoreURI says which), and a store claimed by another database
	// is refused (ErrStoreMismatch). "" with Blobs set: a store of tests,
	// neither recorded nor claimed.
	BlobsURI string
}

// DB is an open clipfs database.
type DB struct {
	dir      string
	kv       *badger.DB // nil in a replica, whose store is behind gate
	gate     *kvGate    // a replica's store (view); nil for a database opened with Open
	feed     *treeFeed  // a replica's change feed (WatchTree); nil with Open
	log      *slog.Logger
	readOnly bool
	blobs    BlobStore
	blobsURI string     // Options.BlobsURI; "" for the folder store
	writeMu  sync.Mutex // one writer at a time: commits read-modify-write the video record
	adopted  adopted    // digests of adopted blobs not yet committed
	verdicts verdicts   // blobs verified against their digests (VerifyBlob)
}

const marker = "CLIPFS"

// Open opens the database in dir. A folder that does not exist (and
// Options.Create unset) or holds something else gives ErrNoDatabase; a
// database held by another process gives ErrLocked.
func Open(dir string, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("index: %s: %w", dir, err)
	}
	created, err := prepareDir(abs, opts)
	if err != nil {
		return nil, err
	}
	bo := badgerOptions(filepath.Join(abs, "badger"), log).
		WithSyncWrites(true).
		WithReadOnly(opts.ReadOnly)
	if !opts.ReadOnly {
		// Badger's first writes happen in Open (a new log file's header).
		var st syscall.Statfs_t
		if err := syscall.Statfs(abs, &st); err == nil {
			if err := headroomError(abs, Space{Free: st.Bavail * uint64(st.Bsize)}); err != nil {
				return nil, err
			}
		}
	}
	kv, err := badger.Open(bo)
	if err != nil {
		return nil, translateOpenError(abs, err)
	}
	blobs := opts.Blobs
	if blobs == nil {
		blobs = NewFolderStore(filepath.Join(abs, "blobs"))
	}
	if opts.Blobs == nil || opts.BlobsURI != "" { // a test's unnamed store is neither recorded nor claimed
		if err := checkStore(context.Background(), abs, opts, created); err != nil {
			kv.Close()
			return nil, err
		}
	}
	db := &DB{dir: abs, kv: kv, log: log, readOnly: opts.ReadOnly, blobs: blobs, blobsURI: opts.BlobsURI}
	if !opts.ReadOnly {
		if err := db.sweep(); err != nil {
			kv.Close()
			return nil, err
		}
	}
	return db, nil
}

// badgerOptions are the store's settings, the owner's and a replica's.
func badgerOptions(dir string, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithNumVersionsToKeep(1).
		WithMemTableSize(64 << 20). // a chunk commit must fit one transaction (~9 MiB)
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(16 << 20).
		WithValueThreshold(4 << 10).
		WithCompactL0OnClose(false)
}

// prepareDir makes sure dir holds a database, making a new one when
// asked; created reports that it did.
func prepareDir(dir string, opts Options) (created bool, err error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist) && opts.Create && !opts.ReadOnly:
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("index: %s: %w", dir, err)
		}
	case errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("index: %s: %w", dir, ErrNoDatabase)
	case err != nil:
		return false, fmt.Errorf("index: %s: %w", dir, err)
	case !st.IsDir():
		return false, fmt.Errorf("index: %s: not a folder", dir)
	}
	m := filepath.Join(dir, marker)
	if _, err := os.Stat(m); err == nil {
		return false, nil
	}
	if !opts.Create || opts.ReadOnly {
		return false, fmt.Errorf("index: %s: %w", dir, ErrNoDatabase)
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		return false, fmt.Errorf("index: %s: folder is not empty and holds no clipfs database", dir)
	}
	for _, sub := range []string{"badger", "blobs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return false, fmt.Errorf("index: %s: %w", dir, err)
		}
	}
	return true, os.WriteFile(m, []byte("clipfs database v1\n"), 0o644)
}

func translateOpenError(dir string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Cannot acquire directory lock") || strings.Contains(msg, "resource temporarily unavailable") {
		return fmt.Errorf("index: %s: %w", dir, ErrLocked)
	}
	return fmt.Errorf("index: %s: cannot open: %v", dir, firstLine(msg))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Dir is the database folder (absolute).
func (db *DB) Dir() string { return db.dir }

// BlobsURI names the store of the database's blobs for a machine that puts
// blobs into it (a worker): the object store's s3:// URI, or file:// and the
// absolute path of the blobs folder.
func (db *DB) BlobsURI() string {
	if db.blobsURI != "" {
		return db.blobsURI
	}
	return "file://" + filepath.Join(db.dir, "blobs")
}

// Close flushes and closes the database. A replica's database closes once
// its reads are done; Replica.Close does that too, after a poll in
// progress, and releases the replica's folder.
func (db *DB) Close() error {
	if db.gate != nil {
		return db.gate.close()
	}
	if err := db.kv.Close(); err != nil {
		return fmt.Errorf("index: close %s: %v", db.dir, err)
	}
	return nil
}

type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (l badgerLogger) Infof(f string, a ...any)  {}
func (l badgerLogger) Debugf(f string, a ...any) {}
