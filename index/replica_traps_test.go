package index

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// The three traps of replicating through Badger backups (badger v4.9.6).
// Each test first shows the trap with Badger alone, so that a Badger that
// no longer has it is noticed, then that the publisher and replica avoid
// it.

// restore loads backup streams, in order, into a fresh store.
func restore(t *testing.T, streams ...[]byte) *badger.DB {
	t.Helper()
	kv, err := badger.Open(badgerOptions(t.TempDir(), slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	for _, s := range streams {
		if err := kv.Load(bytes.NewReader(s), loadWriters); err != nil {
			t.Fatal(err)
		}
	}
	return kv
}

func hasKey(t *testing.T, kv *badger.DB, key []byte) bool {
	t.Helper()
	err := kv.View(func(txn *badger.Txn) error { _, err := txn.Get(key); return err })
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func backup(t *testing.T, db *DB, since uint64) ([]byte, uint64) {
	t.Helper()
	var b bytes.Buffer
	v, err := db.kv.Backup(&b, since)
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), v
}

// TestReplicationTrapSincePlusOne: Backup returns the last version it
// wrote, and writes versions above since. Fed back + 1, as its comment
// says, the next backup skips the transaction right after.
func TestReplicationTrapSincePlusOne(t *testing.T) {
	t.Run("badger alone", func(t *testing.T) {
		owner := openTemp(t)
		testCommit(t, owner, "/in/a.mp4", "fp1", 0, 2)
		base, v := backup(t, owner, 0)
		next := testCommit(t, owner, "/in/b.mp4", "fp1", 0, 2) // one transaction, version v+1
		plusOne, _ := backup(t, owner, v+1)
		unchanged, _ := backup(t, owner, v)
		if hasKey(t, restore(t, base, plusOne), chunkKey(next.Chunk.ID)) {
			t.Fatal("Backup(since+1) kept the next transaction: the trap is gone, revisit writeBackup's comment")
		}
		if !hasKey(t, restore(t, base, unchanged), chunkKey(next.Chunk.ID)) {
			t.Fatal("Backup(since) lost the next transaction")
		}
	})
	t.Run("publisher", func(t *testing.T) {
		rp := newReplication(t, PublishOptions{})
		testCommit(t, rp.owner, "/in/a.mp4", "fp1", 0, 2)
		first := rp.publish(t)
		r := rp.open(t, "")
		next := testCommit(t, rp.owner, "/in/b.mp4", "fp1", 0, 2)
		st := rp.publish(t)
		if st.Since != first.Version {
			t.Errorf("increment since %d, the base ended at %d", st.Since, first.Version)
		}
		poll(t, r)
		if _, err := r.DB().Chunk(next.Chunk.ID); err != nil {
			t.Fatalf("the transaction after the base: %v", err)
		}
		sameAsOwner(t, r, rp.owner)
	})
}

// compact flushes the memtables and compacts every level (DropPrefix of a
// prefix that holds a key does both), so that versions no read can see,
// tombstones included, are dropped.
func compact(t *testing.T, db *DB) {
	t.Helper()
	err := db.kv.Update(func(txn *badger.Txn) error { return txn.Set([]byte("zz-compact/x"), []byte("x")) })
	if err == nil {
		err = db.kv.DropPrefix([]byte("zz-compact/"))
	}
	if err == nil {
		err = db.kv.Flatten(1)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// versions counts the versions of key the store holds, deleted or not.
func versions(t *testing.T, db *DB, key []byte) int {
	t.Helper()
	n := 0
	err := db.kv.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.AllVersions = true
		opts.Prefix = key
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if bytes.Equal(it.Item().Key(), key) {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplicationTrapDeleteComesBack: re-curation deletes the keys of the
// clips a video no longer has. Once no read is older than the deletion,
// compaction drops its tombstone, and the next increment does not carry
// it: the clip lives on in the replica. The publisher holds a read from
// before one backup until the next has shipped.
func TestReplicationTrapDeleteComesBack(t *testing.T) {
	scenario := func(t *testing.T, owner *DB, afterBase func()) (gone ClipRecord) {
		old := testCommit(t, owner, "/in/a.mp4", "fp1", 0, 3)
		afterBase()
		testCommit(t, owner, "/in/a.mp4", "fp2", 0, 2) // clip 2 goes
		compact(t, owner)
		if _, err := owner.Clip(old.Clips[2].ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the replaced clip is still on the owner: %v", err)
		}
		return old.Clips[2]
	}
	t.Run("badger alone", func(t *testing.T) {
		owner := openTemp(t)
		var base []byte
		var v uint64
		gone := scenario(t, owner, func() { base, v = backup(t, owner, 0) })
		if n := versions(t, owner, clipKey(gone.ID)); n != 0 {
			t.Fatalf("compaction kept %d versions of the deleted clip: the scenario no longer drops tombstones", n)
		}
		incr, _ := backup(t, owner, v)
		if !hasKey(t, restore(t, base, incr), clipKey(gone.ID)) {
			t.Fatal("the deleted clip did not come back: the trap is gone, revisit Publisher.hold")
		}
	})
	t.Run("publisher", func(t *testing.T) {
		rp := newReplication(t, PublishOptions{})
		var r *Replica
		gone := scenario(t, rp.owner, func() {
			rp.publish(t)
			r = rp.open(t, "")
		})
		if n := versions(t, rp.owner, clipKey(gone.ID)); n == 0 {
			t.Error("the tombstone was compacted away under the publisher's read")
		}
		if st := rp.publish(t); st.Full {
			t.Fatalf("publish after the deletion rebased (%+v): the test shows nothing", st)
		}
		poll(t, r)
		db := r.DB()
		if _, err := db.Clip(gone.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("the deleted clip came back on the replica: %v", err)
		}
		if _, err := db.Lookup(DirMetas, gone.ID.String()+".json"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the deleted clip's metas entry came back on the replica: %v", err)
		}
		sameAsOwner(t, r, rp.owner)
	})
}

// TestReplicaReadersNeverSeeHalfAChunk: the owner commits chunks (new
// videos, and replacements that delete clips) while a publisher ships
// increments and rebases, a replica is bootstrapped mid-run and follows,
// and readers loop over the replica: never a chunk without all its clips
// and entries, never a clip without its chunk. Without the replica's gate
// around DB.Load it fails under -race: Load sets Badger's next read
// timestamp unlocked while reads take it.
func TestReplicaReadersNeverSeeHalfAChunk(t *testing.T) {
	rp := newReplication(t, PublishOptions{RebaseAfter: 3, Retain: -1})
	const videos, clips = 30, 6
	var work []ChunkCommit
	for i := range videos {
		work = append(work, testChunk(t, rp.owner, fmt.Sprintf("/in/v%02d.mp4", i), "fp1", 0, clips))
		if i%4 == 3 { // replace an earlier video: its chunk keeps its id, loses clips
			work = append(work, testChunk(t, rp.owner, fmt.Sprintf("/in/v%02d.mp4", i-2), "fp2", 0, clips-2))
		}
	}
	for _, cc := range work[:3] {
		if err := rp.owner.CommitChunk(cc); err != nil {
			t.Fatal(err)
		}
	}
	rp.publish(t)

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	var ownerDone atomic.Bool
	wg.Go(func() { // the owner
		defer ownerDone.Store(true)
		for _, cc := range work[3:] {
			if err := rp.owner.CommitChunk(cc); err != nil {
				fail(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Go(func() { // the publisher
		for !stop.Load() {
			if _, err := rp.pub.Publish(t.Context()); err != nil {
				fail(err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	r := rp.open(t, "") // bootstrapped while the owner commits
	var reads, applied, rebuilt atomic.Int64
	for range 3 {
		wg.Go(func() { // readers
			for !stop.Load() {
				if err := snapshotConsistent(r.DB()); err != nil {
					fail(fmt.Errorf("one read: %w", err))
					return
				}
				if err := readsConsistent(r.DB()); err != nil {
					fail(fmt.Errorf("lookups: %w", err))
					return
				}
				reads.Add(1)
			}
		})
	}
	wg.Go(func() { // the replica following
		for !stop.Load() {
			st, err := r.Poll(t.Context())
			if err != nil {
				fail(err)
				return
			}
			applied.Add(int64(st.Applied))
			time.Sleep(time.Millisecond)
			if st.Rebuilt {
				rebuilt.Add(1)
			}
		}
	})
	// Run until the owner is done and the replica has caught up with a
	// publish made after that.
	deadline := time.After(30 * time.Second)
	var final uint64
	for caughtUp := false; !caughtUp; {
		select {
		case err := <-errs:
			stop.Store(true)
			wg.Wait()
			t.Fatal(err)
		case <-deadline:
			stop.Store(true)
			wg.Wait()
			t.Fatalf("no catching up in 30 s: %d applied, %d rebuilds, %d reads", applied.Load(), rebuilt.Load(), reads.Load())
		case <-time.After(10 * time.Millisecond):
		}
		if final == 0 && ownerDone.Load() {
			final = rp.owner.kv.MaxVersion()
		}
		caughtUp = final != 0 && r.Version() >= final
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d rounds of reads over %d increments applied and %d rebuilds", reads.Load(), applied.Load(), rebuilt.Load())
	if applied.Load() == 0 || reads.Load() == 0 {
		t.Fatal("nothing was applied while readers read")
	}
	rp.publish(t)
	poll(t, r)
	sameAsOwner(t, r, rp.owner)
}

// snapshotConsistent checks, inside one read transaction, that every chunk
// record comes with its video record (listing it), its processed_clip_chunks
// entry and each of its clips with their metas entries, and that every clip
// record's chunk exists.
func snapshotConsistent(db *DB) error {
	return db.view(func(txn *badger.Txn) error {
		err := scanJSONTxn(txn, "k/", func(key string, ch ChunkRecord, err error) error {
			if err != nil {
				return err
			}
			var v VideoRecord
			if err := getJSON(txn, videoKey(ch.Source), &v); err != nil {
				return fmt.Errorf("chunk %s without video %s: %w", ch.ID, ch.Source, err)
			}
			if !slices.ContainsFunc(v.ChunksDone, func(c ChunkRef) bool { return c.ID == ch.ID }) {
				return fmt.Errorf("chunk %s not in its video's chunks %v", ch.ID, v.ChunksDone)
			}
			p := ChunkMetaPath(v.Rel, ch.Index)
			i := strings.LastIndexByte(p, '/')
			if _, err := txn.Get(entryKey(p[:i], p[i+1:])); err != nil {
				return fmt.Errorf("chunk %s without %s: %w", ch.ID, p, err)
			}
			for _, c := range append(slices.Clone(ch.Clips), ch.Filtered...) {
				if _, err := txn.Get(clipKey(c)); err != nil {
					return fmt.Errorf("chunk %s without its clip %s: %w", ch.ID, c, err)
				}
				if _, err := txn.Get(entryKey(DirMetas, c.String()+".json")); err != nil {
					return fmt.Errorf("chunk %s without the metas of clip %s: %w", ch.ID, c, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return scanJSONTxn(txn, "c/", func(key string, c ClipRecord, err error) error {
			if err != nil {
				return err
			}
			if _, err := txn.Get(chunkKey(c.Chunk)); err != nil {
				return fmt.Errorf("clip %s without its chunk %s: %w", c.ID, c.Chunk, err)
			}
			return nil
		})
	})
}

// readsConsistent checks the same through the readers FUSE uses (Lookup,
// ReadDir, Chunk, Clip), one read at a time. The workload never deletes a
// chunk record and never brings a deleted clip back, so a clip missing
// while a later read of its chunk still lists it is half a chunk.
func readsConsistent(db *DB) error {
	ents, err := db.ReadDir(DirChunks, "", 1<<20)
	if err != nil {
		return err
	}
	for _, e := range ents {
		id, err := uuid.Parse(e.Ref)
		if err != nil {
			return err
		}
		ch, err := db.Chunk(id)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		for _, c := range ch.Clips {
			_, err1 := db.Clip(c)
			_, err2 := db.Lookup(DirMetas, c.String()+".json")
			_, err3 := db.Lookup(DirClips, c.String()+".mp4")
			if err := errors.Join(err1, err2, err3); err != nil {
				if now, cerr := db.Chunk(id); cerr != nil || slices.Contains(now.Clips, c) {
					return fmt.Errorf("chunk %s lists clip %s: %w", id, c, err)
				}
			}
		}
	}
	ents, err = db.ReadDir(DirClips, "", 1<<20)
	if err != nil {
		return err
	}
	for _, e := range ents {
		id, err := uuid.Parse(strings.TrimSuffix(e.Name, ".mp4"))
		if err != nil {
			return err
		}
		c, err := db.Clip(id)
		if errors.Is(err, ErrNotFound) {
			continue // replaced since
		} else if err != nil {
			return err
		}
		if _, err := db.Chunk(c.Chunk); err != nil {
			return fmt.Errorf("clip %s: %w", id, err)
		}
	}
	return nil
}
