package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Faults of replication: a replica folder a crash left, objects missing,
// changed or replaced by a rebase while a replica reads them, puts that
// fail.

// TestReplicaRebuildsHalfWrittenDir: whatever a crash leaves in the folder
// (a half-applied increment, a torn state file, a missing or half-built
// store), the replica opens equal to the owner.
func TestReplicaRebuildsHalfWrittenDir(t *testing.T) {
	rp := newReplication(t, PublishOptions{})
	testCommit(t, rp.owner, "/in/a.mp4", "fp1", 0, 3)
	rp.publish(t)
	testCommit(t, rp.owner, "/in/b.mp4", "fp1", 0, 3)
	rp.publish(t)
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string, st replicaState)
	}{
		{"applying", func(t *testing.T, dir string, st replicaState) {
			st.Applying = "incr-000001-v1-v2.backup"
			raw, _ := json.Marshal(st)
			os.WriteFile(filepath.Join(dir, replicaStateFile), raw, 0o644)
		}},
		{"torn state", func(t *testing.T, dir string, st replicaState) {
			os.WriteFile(filepath.Join(dir, replicaStateFile), []byte(`{"store":"kv-0`), 0o644)
		}},
		{"store gone", func(t *testing.T, dir string, st replicaState) {
			os.RemoveAll(filepath.Join(dir, st.Store))
		}},
		{"store garbage", func(t *testing.T, dir string, st replicaState) {
			p := filepath.Join(dir, st.Store)
			os.RemoveAll(p)
			os.MkdirAll(p, 0o755)
			os.WriteFile(filepath.Join(p, "MANIFEST"), []byte("not badger"), 0o644)
		}},
		{"half-built store beside", func(t *testing.T, dir string, st replicaState) {
			p := filepath.Join(dir, "kv-000099")
			os.MkdirAll(p, 0o755)
			os.WriteFile(filepath.Join(p, "000001.vlog"), []byte("half"), 0o644)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := rp.open(t, dir)
			st := r.state
			r.Close()
			tc.damage(t, dir, st)
			r = rp.open(t, dir)
			sameAsOwner(t, r, rp.owner)
			ents, _ := os.ReadDir(dir)
			var stores []string
			for _, e := range ents {
				if isStoreName(e.Name()) {
					stores = append(stores, e.Name())
				}
			}
			if len(stores) != 1 || stores[0] != r.state.Store {
				t.Errorf("stores left: %v, in use %s", stores, r.state.Store)
			}
		})
	}
}

// TestReplicaMissingObjectKeepsServing: an increment that cannot be
// fetched fails the poll; the replica serves the state before it, and
// catches up once the object is back.
func TestReplicaMissingObjectKeepsServing(t *testing.T) {
	rp := newReplication(t, PublishOptions{})
	testCommit(t, rp.owner, "/in/a.mp4", "fp1", 0, 3)
	rp.publish(t)
	r := rp.open(t, "")
	before := dump(t, r.DB())
	testCommit(t, rp.owner, "/in/b.mp4", "fp1", 0, 3)
	st := rp.publish(t)
	p, _ := rp.objects.LocalPath(st.Object)
	aside := filepath.Join(t.TempDir(), "aside")
	if err := os.Rename(p, aside); err != nil {
		t.Fatal(err)
	}
	if ps, err := r.Poll(context.Background()); err == nil || ps.Applied != 0 {
		t.Fatalf("poll with the increment missing: %+v, %v", ps, err)
	}
	sameKV(t, dump(t, r.DB()), before)
	if _, err := r.DB().Lookup(DirClips, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the replica stopped serving: %v", err)
	}
	os.Rename(aside, p)
	if ps := poll(t, r); ps.Applied != 1 {
		t.Fatalf("poll once the object is back: %+v", ps)
	}
	sameAsOwner(t, r, rp.owner)

	// An object whose bytes are not the manifest's is not applied either.
	testCommit(t, rp.owner, "/in/c.mp4", "fp1", 0, 3)
	st = rp.publish(t)
	p, _ = rp.objects.LocalPath(st.Object)
	raw, _ := os.ReadFile(p)
	raw[len(raw)/2] ^= 0xff
	os.WriteFile(p, raw, 0o644)
	if _, err := r.Poll(context.Background()); !errors.Is(err, errObjectChanged) {
		t.Fatalf("poll of a corrupt increment: %v", err)
	}
}

// hookStore runs before(name) ahead of every Open.
type hookStore struct {
	BlobStore
	before func(name string)
}

func (s *hookStore) Open(ctx context.Context, name string) (BlobReader, error) {
	if s.before != nil {
		s.before(name)
	}
	return s.BlobStore.Open(ctx, name)
}

// TestReplicaManifestChangesWhileFetching: the owner rebases (and removes
// the old objects) between the replica reading the manifest and fetching
// what it names; the replica reads the manifest again and follows the new
// one, at bootstrap and at a poll.
func TestReplicaManifestChangesWhileFetching(t *testing.T) {
	rp := newReplication(t, PublishOptions{RebaseAfter: 1, Retain: -1})
	testCommit(t, rp.owner, "/in/a.mp4", "fp1", 0, 3)
	first := rp.publish(t)
	hook := &hookStore{BlobStore: rp.objects}
	rebase := func(when string) func(string) {
		done := false
		return func(name string) {
			if name != when || done {
				return
			}
			done = true
			for i := range 2 { // RebaseAfter 1: an increment, then a base
				testCommit(t, rp.owner, fmt.Sprintf("/in/%s-%d", when, i), "fp1", 0, 2)
				if st := rp.publish(t); st.Full {
					return
				}
			}
			t.Errorf("no rebase")
		}
	}
	hook.before = rebase(first.Object)
	r := rp.openFrom(t, "", hook)
	sameAsOwner(t, r, rp.owner)

	testCommit(t, rp.owner, "/in/b.mp4", "fp1", 0, 3)
	st := rp.publish(t) // an increment on the new base
	hook.before = rebase(st.Object)
	ps := poll(t, r)
	if !ps.Rebuilt {
		t.Errorf("poll across a rebase: %+v", ps)
	}
	sameAsOwner(t, r, rp.owner)
}

// failStore fails the Puts fail says to, before putting or (lost reply)
// after.
type failStore struct {
	BlobStore
	fail      func(name string) bool
	lostReply bool
}

func (s *failStore) Put(ctx context.Context, name, src string) error {
	if !s.fail(name) {
		return s.BlobStore.Put(ctx, name, src)
	}
	if s.lostReply {
		s.BlobStore.Put(ctx, name, src)
	}
	return errors.New("injected failure")
}

// TestPublishAfterFailedPut: a publish whose manifest cannot be put fails
// and leaves the current manifest; the next one works, and what the failed
// one put goes only after it. A manifest put whose reply was lost is
// current until the next publish, which replicas follow.
func TestPublishAfterFailedPut(t *testing.T) {
	owner := openTemp(t)
	folder := NewFolderStore(filepath.Join(t.TempDir(), "index"))
	failing := true
	objects := &failStore{BlobStore: folder, fail: func(name string) bool { return failing && strings.HasPrefix(name, "manifest-") }}
	rp := &replication{owner: owner, objects: folder, pub: owner.NewPublisher(objects, PublishOptions{Retain: -1})}
	defer rp.pub.Close()
	testCommit(t, owner, "/in/a.mp4", "fp1", 0, 2)
	if _, err := rp.pub.Publish(context.Background()); err == nil {
		t.Fatal("publish with the manifest failing: no error")
	}
	if m, err := LatestManifest(context.Background(), folder); m != nil || err != nil {
		t.Fatalf("after the failed publish: manifest %+v, %v", m, err)
	}
	failing = false
	st := rp.publish(t)
	rp.publish(t) // collects what is retired
	if got := storeNames(t, folder); !slices.Contains(got, st.Object) {
		t.Fatalf("the object the manifest names was removed: %v", got)
	}
	r := rp.open(t, "")
	sameAsOwner(t, r, owner)

	failing, objects.lostReply = true, true
	testCommit(t, owner, "/in/b.mp4", "fp1", 0, 2)
	if _, err := rp.pub.Publish(context.Background()); err == nil {
		t.Fatal("publish with the manifest's reply lost: no error")
	}
	poll(t, r) // follows the manifest that landed
	failing = false
	testCommit(t, owner, "/in/c.mp4", "fp1", 0, 2)
	rp.publish(t)
	poll(t, r)
	sameAsOwner(t, r, owner)
}

func TestOpenReplicaErrors(t *testing.T) {
	rp := newReplication(t, PublishOptions{})
	blobs := ReplicaOptions{Blobs: NewFolderStore(t.TempDir())}
	if _, err := OpenReplica(context.Background(), rp.objects, t.TempDir(), blobs); !errors.Is(err, ErrNothingPublished) {
		t.Errorf("nothing published: %v", err)
	}
	rp.publish(t)
	dir := t.TempDir()
	rp.open(t, dir)
	if _, err := OpenReplica(context.Background(), rp.objects, dir, blobs); !errors.Is(err, ErrLocked) {
		t.Errorf("a folder in use: %v", err)
	}
	if _, err := OpenReplica(context.Background(), rp.objects, rp.owner.Dir(), blobs); err == nil {
		t.Error("a database folder opened as a replica")
	}
	if _, err := OpenReplica(context.Background(), rp.objects, t.TempDir(), ReplicaOptions{}); err == nil {
		t.Error("no blob store: no error")
	}
}

// readTour is what the read API says of db, the way fs/tree reads it:
// videos, chunks, clips, embeddings, shards, shard contents and a check.
func readTour(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	err := db.Videos(func(v VideoRecord) error {
		fmt.Fprintf(&b, "video %s %v;", v.Source, v.ChunksDone)
		for _, c := range v.ChunksDone {
			ch, err := db.Chunk(c.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "chunk %v %v;", ch.Clips, ch.Embedded)
			for _, id := range ch.Clips {
				e, err := db.Embedding("iv2", id)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "emb %v;", e.Shape)
			}
		}
		return nil
	})
	if err == nil {
		err = db.Clips(func(c ClipRecord) error { fmt.Fprintf(&b, "clip %s %v;", c.ID, c.Filtered); return nil })
	}
	if err == nil {
		err = db.SealedShards(func(h ShardHeader) error {
			ss, err := db.ShardSamples(h.Number)
			if err != nil {
				return err
			}
			sc, err := db.OpenShardContent(h.Number)
			if err != nil {
				return err
			}
			defer sc.Close()
			fmt.Fprintf(&b, "shard %d %d %s %d samples %d files;", h.Number, h.Size, h.MD5, len(ss), len(sc.Files))
			return nil
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	oh, _ := db.OpenShardHeader()
	fmt.Fprintf(&b, "open shard %d %d;", oh.Number, oh.Samples)
	st, err := db.Check(context.Background(), CheckOptions{ReadData: true}, func(p Problem) { fmt.Fprintf(&b, "problem %s;", p) })
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "check %d records %d blobs %d problems", st.Records, st.Blobs, st.Problems)
	return b.String()
}
