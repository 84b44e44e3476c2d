package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	badger "github.com/dgraph-io/badger/v4"
)

// errObjectChanged reports an object whose size or digest is not the one
// its manifest records.
var errObjectChanged = errors.New("object differs from its manifest")

// maxManifestTries bounds how many newer manifests one bootstrap or poll
// follows after objects went missing.
const maxManifestTries = 4

// loadWriters is DB.Load's maxPendingWrites.
const loadWriters = 16

// retryable is an error a newer manifest may cure: an object removed or
// replaced after the manifest naming it was read.
func retryable(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, errObjectChanged)
}

// bootstrap builds a store from the current manifest, reading it again
// when an object it names is gone (a rebase removed it meanwhile).
func (r *Replica) bootstrap(ctx context.Context) (*kvHandle, uint64, error) {
	var failed uint64
	var lastErr error
	for attempt := 0; ; attempt++ {
		m, err := LatestManifest(ctx, r.objects)
		if err != nil {
			return nil, 0, fmt.Errorf("index: replica %s: %w", r.dir, err)
		}
		if m == nil {
			return nil, 0, fmt.Errorf("index: replica %s: %w", r.dir, ErrNothingPublished)
		}
		if failed == m.Seq || attempt == maxManifestTries {
			return nil, 0, lastErr // no newer manifest to try
		}
		h, st, _, err := r.build(ctx, m)
		if err == nil {
			err = r.writeState(st)
		}
		if err == nil {
			return h, m.Seq, nil
		}
		if h != nil {
			h.kv.Close()
			os.RemoveAll(h.dir)
		}
		if !retryable(err) {
			return nil, 0, err
		}
		failed, lastErr = m.Seq, err
		r.log.Info("index replica: an object went missing while building; reading the manifest again", "err", err)
	}
}

// Poll brings the replica up to the current manifest: it applies the
// increments after the version it serves, or builds a new store when the
// base changed, swapping it in once complete. Readers see each increment
// whole or not at all; WatchTree hears of its entries once they are
// readable. An object that cannot be fetched ends the poll with an error
// after what was applied before it, unless a newer manifest names other
// objects (it is then followed); the replica keeps serving meanwhile.
func (r *Replica) Poll(ctx context.Context) (PollStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var st PollStats
	if r.closed {
		return st, fmt.Errorf("index: replica %s: %w", r.dir, badger.ErrDBClosed)
	}
	var failed uint64
	var lastErr error
	for attempt := 0; ; attempt++ {
		st.Version = r.state.Version
		m, err := LatestManifest(ctx, r.objects)
		if err != nil {
			return st, fmt.Errorf("index: replica %s: %w", r.dir, err)
		}
		if m == nil {
			return st, fmt.Errorf("index: replica %s: %w", r.dir, ErrNothingPublished)
		}
		if m.Seq == r.seen {
			return st, nil
		}
		if m.Seq == failed || attempt == maxManifestTries {
			return st, lastErr // no newer manifest to try
		}
		err = r.follow(ctx, m, &st)
		st.Version = r.state.Version
		if err == nil {
			r.seen = m.Seq
			return st, nil
		}
		if !retryable(err) {
			return st, err
		}
		failed, lastErr = m.Seq, err
	}
}

// follow applies manifest m: its increments after the replica's version,
// or all of it into a new store.
func (r *Replica) follow(ctx context.Context, m *ReplicationManifest, st *PollStats) error {
	if err := checkChain(m); err != nil {
		return fmt.Errorf("index: replica: %s: %w", manifestName(m.Seq), err)
	}
	todo, ok := r.pending(m)
	if !ok {
		return r.rebuild(ctx, m, st)
	}
	for _, o := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := r.apply(ctx, o, st)
		if err != nil && !retryable(err) && r.state.Applying != "" {
			r.log.Error("index replica: an increment failed to apply; rebuilding", "object", o.Name, "err", err)
			return r.rebuild(ctx, m, st)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pending is the increments of m after the replica's version; ok is false
// when the replica cannot go on from its state to m (another base, a gap,
// an increment left half-applied).
func (r *Replica) pending(m *ReplicationManifest) ([]ReplicationObject, bool) {
	if r.state.Applying != "" || m.Base.Name != r.state.Base {
		return nil, false
	}
	if r.state.Version == m.Base.Version {
		return m.Increments, true
	}
	for i, o := range m.Increments {
		if o.Version == r.state.Version {
			return m.Increments[i+1:], true
		}
	}
	return nil, false
}

// checkChain checks that each object of m starts where the one before
// ended.
func checkChain(m *ReplicationManifest) error {
	v := m.Base.Version
	for _, o := range m.Increments {
		if o.Since != v {
			return fmt.Errorf("increment %s starts at version %d, after %d", o.Name, o.Since, v)
		}
		v = o.Version
	}
	if v != m.Version {
		return fmt.Errorf("ends at version %d, says %d", v, m.Version)
	}
	return nil
}

// apply loads increment o into the store in use, with new reads held out.
func (r *Replica) apply(ctx context.Context, o ReplicationObject, st *PollStats) error {
	path, err := r.fetch(ctx, o)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	st.Bytes += o.Size
	changed, err := changedKeys(path)
	if err != nil {
		return fmt.Errorf("index: replica: %s: %w", o.Name, err)
	}
	next := r.state
	next.Applying = o.Name
	if err := r.writeState(next); err != nil {
		return err
	}
	err = r.db.gate.exclusive(func(h *kvHandle) error { return loadFile(h.kv, path) })
	if err != nil {
		return fmt.Errorf("index: replica: apply %s: %w", o.Name, err)
	}
	next.Applying, next.Version = "", o.Version
	if err := r.writeState(next); err != nil {
		return err
	}
	st.Applied++
	r.announce(changed, st)
	return nil
}

// rebuild builds a store from m and swaps it in for the one in use.
func (r *Replica) rebuild(ctx context.Context, m *ReplicationManifest, st *PollStats) error {
	h, next, n, err := r.build(ctx, m)
	st.Bytes += n
	if err == nil {
		var changed map[string][]byte
		if changed, err = r.diff(h.kv); err == nil {
			if err = r.writeState(next); err == nil {
				return r.swapIn(h, changed, st)
			}
		}
	}
	if h != nil {
		h.kv.Close()
		os.RemoveAll(h.dir)
	}
	return err
}

func (r *Replica) swapIn(h *kvHandle, changed map[string][]byte, st *PollStats) error {
	old, ok := r.db.gate.swap(h)
	if !ok {
		h.kv.Close()
		return fmt.Errorf("index: replica %s: %w", r.dir, badger.ErrDBClosed)
	}
	if err := old.kv.Close(); err != nil {
		r.log.Warn("index replica: closing the replaced store", "dir", old.dir, "err", err)
	}
	if err := os.RemoveAll(old.dir); err != nil {
		r.log.Warn("index replica: cannot remove the replaced store", "dir", old.dir, "err", err)
	}
	st.Rebuilt = true
	r.announce(changed, st)
	return nil
}

// build loads m's base and increments into a new store folder, which no
// one reads yet. It returns the store with the state naming it, and the
// bytes fetched.
func (r *Replica) build(ctx context.Context, m *ReplicationManifest) (*kvHandle, replicaState, int64, error) {
	if err := checkChain(m); err != nil {
		return nil, replicaState{}, 0, fmt.Errorf("index: replica: %s: %w", manifestName(m.Seq), err)
	}
	name := r.nextStoreName()
	h := &kvHandle{dir: filepath.Join(r.dir, name)}
	kv, err := badger.Open(r.badgerOptions(h.dir))
	if err != nil {
		os.RemoveAll(h.dir)
		return nil, replicaState{}, 0, fmt.Errorf("index: replica %s: %v", h.dir, firstLine(err.Error()))
	}
	h.kv = kv
	var fetched int64
	for _, o := range append([]ReplicationObject{m.Base}, m.Increments...) {
		if err := ctx.Err(); err != nil {
			return h, replicaState{}, fetched, err
		}
		path, err := r.fetch(ctx, o)
		if err != nil {
			return h, replicaState{}, fetched, err
		}
		fetched += o.Size
		err = loadFile(kv, path)
		os.Remove(path)
		if err != nil {
			return h, replicaState{}, fetched, fmt.Errorf("index: replica: load %s: %w", o.Name, err)
		}
	}
	return h, replicaState{Store: name, Base: m.Base.Name, Version: m.Version}, fetched, nil
}

func loadFile(kv *badger.DB, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := kv.Load(f, loadWriters); err != nil {
		return err
	}
	return kv.Sync()
}

// fetch copies object o to the replica's tmp folder in large reads (a
// store's ReaderAt may be one request per read), checking its size and
// SHA-256 against the manifest's.
func (r *Replica) fetch(ctx context.Context, o ReplicationObject) (string, error) {
	rd, err := r.objects.Open(ctx, o.Name)
	if err != nil {
		return "", fmt.Errorf("index: replica: fetch %s: %w", o.Name, err)
	}
	defer rd.Close()
	if rd.Size() != o.Size {
		return "", fmt.Errorf("index: replica: fetch %s: %d bytes, the manifest says %d: %w", o.Name, rd.Size(), o.Size, errObjectChanged)
	}
	path := filepath.Join(r.dir, "tmp", o.Name)
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("index: replica: fetch %s: %w", o.Name, err)
	}
	h := sha256.New()
	buf := make([]byte, min(8<<20, max(o.Size, 1)))
	for off := int64(0); off < o.Size && err == nil; {
		if err = ctx.Err(); err != nil {
			break
		}
		n := int(min(int64(len(buf)), o.Size-off))
		var got int
		got, err = rd.ReadAt(buf[:n], off)
		switch {
		case got == n:
			err = nil
		case err == nil:
			err = io.ErrUnexpectedEOF
		}
		h.Write(buf[:got])
		if _, werr := f.Write(buf[:got]); err == nil {
			err = werr
		}
		off += int64(got)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != o.SHA256 {
		err = fmt.Errorf("SHA-256 is not the manifest's: %w", errObjectChanged)
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("index: replica: fetch %s: %w", o.Name, err)
	}
	return path, nil
}
