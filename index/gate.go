package index

import (
	"fmt"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
)

// view runs fn in a read transaction. Every read of the package goes
// through it, so that a replica (gate set) can hold new reads out while it
// applies an increment.
func (db *DB) view(fn func(txn *badger.Txn) error) error {
	if db.gate == nil {
		return db.kv.View(fn)
	}
	txn, h, err := db.gate.begin()
	if err != nil {
		return err
	}
	defer h.end(txn)
	return fn(txn)
}

// kvGate is a replica's Badger store as its readers reach it.
//
// DB.Load must not run while reads start: it advances Badger's next
// timestamp unlocked, key by key, and a read that takes its timestamp
// halfway waits for the load and then sees a prefix of it, which for a
// stream whose older versions compaction dropped is no state the owner
// ever had (half a chunk). So the gate is held shared only while a read
// transaction takes its timestamp, and exclusively while a load runs. A
// read that began before a load keeps its timestamp, at or below the
// replica's last version, and sees none of the load however long it
// runs: every entry of an increment is newer than the increment's
// since. A read that begins after sees all of it. Holding the gate only
// around the start (not the whole read) means a long scan never holds up
// an apply, and a read inside a read's callback cannot deadlock with a
// waiting apply.
//
// The gate also swaps the store when a replica re-bootstraps: reads that
// began on the old store finish there (txns counts them) before it is
// closed.
type kvGate struct {
	mu  sync.RWMutex
	cur *kvHandle
}

// kvHandle is one Badger store behind a gate and its open reads.
type kvHandle struct {
	kv     *badger.DB
	dir    string         // its folder
	txns   sync.WaitGroup // read transactions begun on it
	closed bool           // guarded by the gate's lock
}

func newKVGate(kv *badger.DB, dir string) *kvGate {
	return &kvGate{cur: &kvHandle{kv: kv, dir: dir}}
}

func (g *kvGate) begin() (*badger.Txn, *kvHandle, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	h := g.cur
	if h.closed {
		return nil, nil, fmt.Errorf("index: replica %s: %w", h.dir, badger.ErrDBClosed)
	}
	h.txns.Add(1)
	return h.kv.NewTransaction(false), h, nil
}

func (h *kvHandle) end(txn *badger.Txn) {
	txn.Discard()
	h.txns.Done()
}

// exclusive runs fn with new reads held out.
func (g *kvGate) exclusive(fn func(h *kvHandle) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur.closed {
		return fmt.Errorf("index: replica %s: %w", g.cur.dir, badger.ErrDBClosed)
	}
	return fn(g.cur)
}

// swap makes h current and returns the old store once no read is left on
// it, for the caller to close. After close it swaps nothing (ok false).
func (g *kvGate) swap(h *kvHandle) (old *kvHandle, ok bool) {
	g.mu.Lock()
	old = g.cur
	if old.closed {
		g.mu.Unlock()
		return nil, false
	}
	g.cur = h
	g.mu.Unlock()
	old.txns.Wait()
	return old, true
}

// close closes the current store once its reads are done; later reads
// fail.
func (g *kvGate) close() error {
	g.mu.Lock()
	h := g.cur
	already := h.closed
	h.closed = true
	g.mu.Unlock()
	if already {
		return nil
	}
	h.txns.Wait()
	return h.kv.Close()
}
