package index

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// PublishOptions configure a Publisher. The zero value takes the defaults.
type PublishOptions struct {
	// RebaseAfter is how many increments a manifest may name before the
	// next publish is a fresh base (default 1000): a bound on what a new
	// replica applies.
	RebaseAfter int
	// RebaseRatio rebases once the increments together exceed this
	// fraction of the base, the base counted as at least 64 MiB (default
	// 0.5).
	RebaseRatio float64
	// Retain is how long objects no manifest names any more (a base and
	// its increments after a rebase, older manifests) stay for replicas
	// still reading them (default 10 minutes; negative removes them at the
	// next publish).
	Retain time.Duration
	// Logger receives what a publish did; nil is silent.
	Logger *slog.Logger
}

const rebaseFloor = 64 << 20

func (o PublishOptions) withDefaults() PublishOptions {
	if o.RebaseAfter <= 0 {
		o.RebaseAfter = 1000
	}
	if o.RebaseRatio <= 0 {
		o.RebaseRatio = 0.5
	}
	if o.Retain == 0 {
		o.Retain = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// PublishStats say what one Publish did.
type PublishStats struct {
	// Object is the backup object put; "" when nothing changed.
	Object string
	// Full is set when Object is a base (a rebase).
	Full bool
	// Bytes is Object's size.
	Bytes int64
	// Since and Version are the range of owner versions Object carries.
	Since, Version uint64
	// Increments is how many increments the current manifest names.
	Increments int
	// Removed counts the objects no manifest needs that were removed.
	Removed int
	// Took is the time the publish took.
	Took time.Duration
}

// Publisher ships the database to a replication store (see doc.go,
// "Replication"). One goroutine calls Publish at a time; Close it before
// the database.
type Publisher struct {
	db      *DB
	objects BlobStore
	opts    PublishOptions

	mu sync.Mutex
	// hold is a read transaction begun before the last backup and kept
	// until the next one has shipped. Compaction drops a tombstone once no
	// read is older than it, and a dropped tombstone is in no later
	// increment: the key would live on in every replica. While hold is
	// open, no version above hold's read timestamp, which is at most
	// cur.Version+1, is dropped.
	hold    *badger.Txn
	startTs uint64 // hold's read timestamp when the publisher was made
	loaded  bool   // the store was listed (cur, gen, seq, retired)
	cur     *ReplicationManifest
	// trusted says cur's chain may go on: every change after cur.Version is
	// still in the database. It is false before the first publish of this
	// process unless nothing was committed since cur.Version.
	trusted bool
	gen     uint64 // cur's generation
	seq     uint64 // the highest seq used in the store (or by a failed publish)
	retired []retiredObject
	failed  []string // put by publishes whose manifest put failed
}

// retiredObject is an object no manifest names since at.
type retiredObject struct {
	name string
	at   time.Time
}

// NewPublisher makes a publisher of the database to objects, a store of
// its own (never the blob store: its sweep would remove them). It begins
// the read transaction that keeps deletions for the first increment, so
// make it right after Open, before commits.
func (db *DB) NewPublisher(objects BlobStore, opts PublishOptions) *Publisher {
	p := &Publisher{db: db, objects: objects, opts: opts.withDefaults()}
	if db.kv != nil { // a replica publishes nothing: Publish says so
		p.hold = db.kv.NewTransaction(false)
		p.startTs = p.hold.ReadTs()
	}
	return p
}

// Close ends the publisher's read transaction. A later publisher's first
// publish continues the increments when nothing was committed meanwhile,
// and rebases otherwise.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hold != nil {
		p.hold.Discard()
		p.hold = nil
	}
	return nil
}

// Publish puts what changed since the last publish: an increment, or a
// fresh base when there is no manifest yet, when this process cannot vouch
// for the changes since it, or when the increments have grown (RebaseAfter,
// RebaseRatio); then the manifest naming it; then removes what no manifest
// needs any more (Retain). Nothing committed since the last publish puts
// nothing. Commits go on while it runs: the object holds the transactions
// committed before its backup began, the next one those after.
func (p *Publisher) Publish(ctx context.Context) (PublishStats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	if p.hold == nil {
		return PublishStats{}, fmt.Errorf("index: publish %s: the publisher is closed, or its database is a replica", p.db.dir)
	}
	if err := p.load(ctx); err != nil {
		return PublishStats{}, err
	}
	next := p.db.kv.NewTransaction(false) // the next hold, begun before the backup
	ts := next.ReadTs()
	if p.cur != nil && p.trusted && ts == p.cur.Version {
		next.Discard()
		st := PublishStats{Version: p.cur.Version, Increments: len(p.cur.Increments), Removed: p.collect(ctx)}
		st.Took = time.Since(start)
		return st, nil
	}
	st, err := p.ship(ctx, ts)
	if err != nil {
		next.Discard()
		return PublishStats{}, err
	}
	p.hold.Discard()
	p.hold = next
	st.Removed = p.collect(ctx)
	st.Took = time.Since(start)
	p.opts.Logger.Debug("index published", "object", st.Object, "full", st.Full, "bytes", st.Bytes,
		"since", st.Since, "version", st.Version, "increments", st.Increments, "removed", st.Removed, "took", st.Took)
	return st, nil
}

// ship writes one backup object and the manifest naming it. ts is the read
// timestamp of the next hold, begun before it.
func (p *Publisher) ship(ctx context.Context, ts uint64) (PublishStats, error) {
	full := p.cur == nil || !p.trusted || p.rebaseDue()
	var since uint64
	if !full {
		since = p.cur.Version
	}
	tmp := p.db.TempPath(".backup")
	defer os.Remove(tmp)
	v, size, sum, err := writeBackup(p.db.kv, tmp, since)
	if err != nil {
		return PublishStats{}, fmt.Errorf("index: publish: backup since %d: %w", since, err)
	}
	// Every change at or below ts is in the backup (it began after next),
	// so the next increment may start at ts even when the backup's last
	// entry is older (the versions between hold nothing).
	version := max(v, ts, since)
	p.seq++ // used up, whatever happens
	m := ReplicationManifest{Format: manifestFormat, Seq: p.seq, PublishedAt: Now(), Version: version}
	obj := ReplicationObject{Since: since, Version: version, Size: size, SHA256: sum}
	if full {
		m.Gen = p.gen + 1
		obj.Name = baseName(m.Seq)
		m.Base = obj
	} else {
		m.Gen, m.Base = p.cur.Gen, p.cur.Base
		obj.Name = incrementName(m.Seq)
		m.Increments = append(slices.Clone(p.cur.Increments), obj)
	}
	if err := p.objects.Put(ctx, obj.Name, tmp); err != nil {
		return PublishStats{}, fmt.Errorf("index: publish %s: %w", obj.Name, err)
	}
	if err := p.putManifest(ctx, &m); err != nil {
		// Put, but perhaps named by no manifest; the manifest may have
		// landed all the same (a lost reply), and is then current until
		// the next one: both retire once a later manifest is put.
		p.failed = append(p.failed, obj.Name, manifestName(m.Seq))
		return PublishStats{}, err
	}
	p.retire(p.failed...)
	p.failed = nil
	if p.cur != nil {
		old := p.cur.names()
		if !full {
			old = old[:1] // the same base and increments stay
		}
		p.retire(old...)
	}
	p.cur, p.trusted, p.gen = &m, true, m.Gen
	return PublishStats{Object: obj.Name, Full: full, Bytes: size, Since: since, Version: version, Increments: len(m.Increments)}, nil
}

func (p *Publisher) rebaseDue() bool {
	if len(p.cur.Increments) >= p.opts.RebaseAfter {
		return true
	}
	return float64(p.cur.incrementBytes()) > p.opts.RebaseRatio*float64(max(p.cur.Base.Size, rebaseFloor))
}

func (p *Publisher) putManifest(ctx context.Context, m *ReplicationManifest) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	name := manifestName(m.Seq)
	tmp := p.db.TempPath(".json")
	defer os.Remove(tmp)
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("index: publish %s: %w", name, err)
	}
	if err := p.objects.Put(ctx, name, tmp); err != nil {
		return fmt.Errorf("index: publish %s: %w", name, err)
	}
	return nil
}

// load lists the store once: the current manifest, the highest generation
// and seq, and every object the current manifest does not name (left by a
// publish that failed, or by an earlier rebase), which is retired now.
func (p *Publisher) load(ctx context.Context) error {
	if p.loaded {
		return nil
	}
	m, err := LatestManifest(ctx, p.objects)
	if err != nil {
		return fmt.Errorf("index: publish: %w", err)
	}
	var all []string
	err = p.objects.List(ctx, func(b BlobInfo) error {
		if s, _, ok := parseObjectName(b.Name); ok {
			all = append(all, b.Name)
			p.seq = max(p.seq, s)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: publish: list: %w", err)
	}
	var keep []string
	if m != nil {
		keep = m.names()
		p.gen = m.Gen
	}
	for _, name := range all {
		if !slices.Contains(keep, name) {
			p.retire(name)
		}
	}
	// The chain may go on only if nothing was committed since its last
	// version before this process's hold began: a deletion committed
	// earlier may already be compacted away.
	p.cur, p.trusted, p.loaded = m, m != nil && m.Version == p.startTs, true
	if m != nil && !p.trusted {
		p.opts.Logger.Info("index publish: rebasing: the database changed since the last publish of another process",
			"manifest", manifestName(m.Seq), "published", m.Version, "now", p.startTs)
	}
	return nil
}

func (p *Publisher) retire(names ...string) {
	now := time.Now()
	for _, n := range names {
		p.retired = append(p.retired, retiredObject{name: n, at: now})
	}
}

// collect removes retired objects older than Retain, and reports how many.
// A removal that fails is tried again next time.
func (p *Publisher) collect(ctx context.Context) int {
	removed := 0
	keep := p.retired[:0]
	for _, r := range p.retired {
		if time.Since(r.at) < p.opts.Retain {
			keep = append(keep, r)
			continue
		}
		if err := p.objects.Remove(ctx, r.name); err != nil {
			p.opts.Logger.Warn("index publish: cannot remove an object no manifest needs", "object", r.name, "err", err)
			keep = append(keep, r)
			continue
		}
		removed++
	}
	p.retired = keep
	return removed
}
