package index

import (
	"context"
	"errors"
	"strings"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/google/uuid"
)

// Change names one tree entry whose existence, attributes or bytes may have
// changed: a file or folder added, replaced or removed, or a rendered file
// whose records changed (a chunk's metas after embeddings, wds/shards.json
// after a shard's md5).
type Change struct {
	Dir  string // slash-separated folder, "" for the root
	Name string
}

// Path is the entry's slash-separated path from the root.
func (c Change) Path() string {
	if c.Dir == "" {
		return c.Name
	}
	return c.Dir + "/" + c.Name
}

// WatchTree calls fn with the entries each batch of commits changed, after
// the commits are visible to readers, until ctx is done (it then returns
// nil). Batches follow commit order; fn runs on one goroutine and commits
// are not held up while it runs (changes made meanwhile arrive in the next
// batch). A batch may name an entry more than once.
//
// On a replica the batches are the increments it applies (and, after it
// re-bootstraps, the entries that differ from what it served before).
func (db *DB) WatchTree(ctx context.Context, fn func([]Change)) error {
	if db.feed != nil {
		return db.feed.watch(ctx, fn)
	}
	// Badger's subscriber callback runs under its publisher's lock: it only
	// hands the keys over; a goroutine of ours reads records and calls fn,
	// so a slow fn never holds up commits.
	var mu sync.Mutex
	var pending []*pb.KV
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			}
			mu.Lock()
			kvs := pending
			pending = nil
			mu.Unlock()
			var out []Change
			for _, kv := range kvs {
				out = append(out, db.changesOf(kv.Key, kv.Value)...)
			}
			if len(out) > 0 {
				fn(out)
			}
		}
	}()
	matches := []pb.Match{{Prefix: []byte("n/")}, {Prefix: []byte("S/")}, {Prefix: []byte("k/")}}
	err := db.kv.Subscribe(ctx, func(kvs *badger.KVList) error {
		mu.Lock()
		pending = append(pending, kvs.Kv...)
		mu.Unlock()
		select {
		case wake <- struct{}{}:
		default:
		}
		return nil
	}, matches)
	<-done
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// changesOf maps one written or deleted key to the tree entries it shows in.
func (db *DB) changesOf(key, val []byte) []Change {
	k := string(key)
	switch {
	case strings.HasPrefix(k, "n/"):
		dir, name, ok := strings.Cut(k[2:], "\x00")
		if !ok {
			return nil
		}
		return []Change{{Dir: dir, Name: name}}
	case strings.HasPrefix(k, "S/"): // a shard header: shards.json changes once it is sealed (and its md5 filled in)
		var h ShardHeader
		if len(val) == 0 || jsonUnmarshal(val, &h) != nil || !h.Sealed {
			return nil // the open shard growing: not served
		}
		return []Change{{Dir: DirShards, Name: ShardIndexName}}
	case strings.HasPrefix(k, "k/"): // a chunk record: its processed_clip_chunks file
		id, err := uuid.Parse(k[2:])
		if err != nil {
			return nil
		}
		var ch ChunkRecord
		if len(val) == 0 || jsonUnmarshal(val, &ch) != nil {
			ch, err = db.Chunk(id)
			if err != nil {
				return nil // deleted; its tree entry's deletion names the file
			}
		}
		v, err := db.Video(ch.Source)
		if err != nil {
			return nil
		}
		p := ChunkMetaPath(v.Rel, ch.Index)
		i := strings.LastIndexByte(p, '/')
		return []Change{{Dir: p[:i], Name: p[i+1:]}}
	}
	return nil
}

// treeFeed is a replica's change feed. A replica does not take its changes
// from Badger's publisher, although DB.Load reaches it: the publisher
// hands them over while the load is still running, and a re-bootstrap
// swaps in another store. The replica publishes each batch itself once
// readers see it.
type treeFeed struct {
	mu   sync.Mutex
	subs map[*feedSub]struct{}
}

type feedSub struct {
	mu      sync.Mutex
	pending []Change
	wake    chan struct{}
}

func newTreeFeed() *treeFeed { return &treeFeed{subs: map[*feedSub]struct{}{}} }

// publish hands cs to every watcher; it never waits for one.
func (f *treeFeed) publish(cs []Change) {
	if len(cs) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.mu.Lock()
		s.pending = append(s.pending, cs...)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (f *treeFeed) watch(ctx context.Context, fn func([]Change)) error {
	s := &feedSub{wake: make(chan struct{}, 1)}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		}
		s.mu.Lock()
		cs := s.pending
		s.pending = nil
		s.mu.Unlock()
		if len(cs) > 0 {
			fn(cs)
		}
	}
}
