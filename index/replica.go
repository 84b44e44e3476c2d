package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrNothingPublished reports a replication store without a manifest.
var ErrNothingPublished = errors.New("no index has been published there yet")

// ReplicaOptions configure OpenReplica.
type ReplicaOptions struct {
	// Blobs is the store the replicated database's blobs are read from
	// (the owner's); required.
	Blobs BlobStore
	// Logger receives Badger's warnings and what polls did; nil is silent.
	Logger *slog.Logger
}

// PollStats say what one Poll did.
type PollStats struct {
	// Applied counts the increments applied.
	Applied int
	// Rebuilt is set when the replica was built again from a base (the
	// owner rebased, or the replica could not go on from its state).
	Rebuilt bool
	// Bytes counts the bytes fetched.
	Bytes int64
	// Version is the owner's version the replica serves now.
	Version uint64
	// Changes counts the tree changes handed to WatchTree.
	Changes int
}

// Replica is a read-only copy of a published database, kept in a folder
// of its own and brought up to date by Poll (see doc.go, "Replication").
// Its DB serves every read a database opened with Open does; writes fail
// with ErrReadOnly.
type Replica struct {
	dir     string
	objects BlobStore
	log     *slog.Logger
	db      *DB
	lock    *os.File // DIR/LOCK, held with flock

	version atomic.Uint64 // state.Version, for Version

	mu     sync.Mutex // one poll at a time; guards what follows
	state  replicaState
	seen   uint64 // seq of the last manifest fully applied
	closed bool
}

// replicaState is DIR/state.json, written after each change of the store
// in use: it names a complete store, and Applying the increment that may
// be half in it.
type replicaState struct {
	Store    string `json:"store"` // folder of the Badger store in use, kv-NNNNNN
	Base     string `json:"base"`  // the base object it was built from
	Version  uint64 `json:"version"`
	Applying string `json:"applying,omitempty"`
}

const replicaStateFile = "state.json"

// OpenReplica opens the replica in folder dir of the database published to
// objects. A folder holding a replica serves what it holds, as it is (call
// Poll or Follow to catch up); an empty or missing one, or one a crash
// left half-written, is built from the current manifest, which fails the
// open when it cannot be read. Another process holding dir gives
// ErrLocked; objects without a manifest give ErrNothingPublished.
func OpenReplica(ctx context.Context, objects BlobStore, dir string, opts ReplicaOptions) (*Replica, error) {
	if opts.Blobs == nil {
		return nil, fmt.Errorf("index: replica %s: no blob store given", dir)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("index: replica %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(abs, marker)); err == nil {
		return nil, fmt.Errorf("index: replica %s: the folder holds a clipfs database, not a replica", abs)
	}
	lock, err := lockReplicaDir(abs)
	if err != nil {
		return nil, err
	}
	r := &Replica{dir: abs, objects: objects, log: log, lock: lock}
	os.RemoveAll(filepath.Join(abs, "tmp"))
	if err := os.MkdirAll(filepath.Join(abs, "tmp"), 0o755); err != nil {
		lock.Close()
		return nil, fmt.Errorf("index: replica %s: %w", abs, err)
	}
	h, err := r.openState()
	if err != nil {
		log.Warn("index replica: rebuilding", "dir", abs, "why", err)
	}
	if h == nil {
		var seen uint64
		if h, seen, err = r.bootstrap(ctx); err != nil {
			lock.Close()
			return nil, err
		}
		r.seen = seen
	}
	r.removeStale()
	r.db = &DB{dir: abs, gate: newKVGate(h.kv, h.dir), feed: newTreeFeed(), log: log, readOnly: true, blobs: opts.Blobs}
	return r, nil
}

func lockReplicaDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("index: replica %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("index: replica %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("index: replica %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("index: replica %s: lock: %w", dir, err)
	}
	return f, nil
}

// DB is the replica's database. It stays the same across polls and
// rebuilds; close the Replica, not the DB.
func (r *Replica) DB() *DB { return r.db }

// Version is the owner's version the replica serves.
func (r *Replica) Version() uint64 { return r.version.Load() }

// Close closes the database once its reads are done (and after a poll in
// progress, whose context the caller cancels first) and releases dir.
func (r *Replica) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.db.gate.close()
	r.lock.Close()
	return err
}

// Follow polls now and then every `every` until ctx is done (it then
// returns nil). A poll that fails is logged and tried again at the next
// tick; the replica serves what it had meanwhile.
func (r *Replica) Follow(ctx context.Context, every time.Duration) error {
	for {
		st, err := r.Poll(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.log.Warn("index replica: poll failed; serving the state before it", "dir", r.dir, "version", r.Version(), "err", err)
		case st.Applied > 0 || st.Rebuilt:
			r.log.Debug("index replica: caught up", "applied", st.Applied, "rebuilt", st.Rebuilt, "bytes", st.Bytes, "version", st.Version)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// openState opens the store DIR/state.json names; (nil, nil) when there
// is none, (nil, why) when it cannot be used.
func (r *Replica) openState() (*kvHandle, error) {
	raw, err := os.ReadFile(filepath.Join(r.dir, replicaStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var st replicaState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", replicaStateFile, err)
	}
	if st.Applying != "" {
		return nil, fmt.Errorf("stopped while applying %s", st.Applying)
	}
	if !isStoreName(st.Store) {
		return nil, fmt.Errorf("%s names store %q", replicaStateFile, st.Store)
	}
	path := filepath.Join(r.dir, st.Store)
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	kv, err := badger.Open(r.badgerOptions(path))
	if err != nil {
		return nil, fmt.Errorf("store %s: %v", st.Store, firstLine(err.Error()))
	}
	r.setState(st)
	return &kvHandle{kv: kv, dir: path}, nil
}

func (r *Replica) badgerOptions(path string) badger.Options {
	// Loads are synced by hand (kv.Sync) before state.json moves on.
	return badgerOptions(path, r.log).WithSyncWrites(false)
}

// writeState makes st DIR/state.json, durably.
func (r *Replica) writeState(st replicaState) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	path := filepath.Join(r.dir, replicaStateFile)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("index: replica %s: %w", r.dir, err)
	}
	_, err = f.Write(append(raw, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(r.dir)
	}
	if err != nil {
		return fmt.Errorf("index: replica %s: state: %w", r.dir, err)
	}
	r.setState(st)
	return nil
}

func (r *Replica) setState(st replicaState) {
	r.state = st
	r.version.Store(st.Version)
}

func isStoreName(name string) bool {
	s, ok := strings.CutPrefix(name, "kv-")
	_, err := strconv.ParseUint(s, 10, 64)
	return ok && err == nil
}

// nextStoreName is a store folder name not in use: one above the highest.
func (r *Replica) nextStoreName() string {
	var n uint64
	ents, _ := os.ReadDir(r.dir)
	for _, e := range ents {
		if s, ok := strings.CutPrefix(e.Name(), "kv-"); ok {
			if i, err := strconv.ParseUint(s, 10, 64); err == nil {
				n = max(n, i)
			}
		}
	}
	return fmt.Sprintf("kv-%06d", n+1)
}

// removeStale removes store folders other than the one in use: what a
// crash during a build or a swap left.
func (r *Replica) removeStale() {
	ents, _ := os.ReadDir(r.dir)
	for _, e := range ents {
		if isStoreName(e.Name()) && e.Name() != r.state.Store {
			if err := os.RemoveAll(filepath.Join(r.dir, e.Name())); err != nil {
				r.log.Warn("index replica: cannot remove a stale store", "dir", e.Name(), "err", err)
			}
		}
	}
}
