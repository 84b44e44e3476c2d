package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// replication is an owner database publishing to a folder store, as the
// tests drive it.
type replication struct {
	owner   *DB
	objects *FolderStore
	pub     *Publisher
}

func newReplication(t *testing.T, opts PublishOptions) *replication {
	t.Helper()
	owner := openTemp(t)
	objects := NewFolderStore(filepath.Join(t.TempDir(), "index"))
	rp := &replication{owner: owner, objects: objects, pub: owner.NewPublisher(objects, opts)}
	t.Cleanup(func() { rp.pub.Close() })
	return rp
}

func (rp *replication) publish(t *testing.T) PublishStats {
	t.Helper()
	st, err := rp.pub.Publish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// open opens a replica in dir (a fresh folder for ""), reading blobs from
// the owner's store.
func (rp *replication) open(t *testing.T, dir string) *Replica {
	t.Helper()
	return rp.openFrom(t, dir, rp.objects)
}

func (rp *replication) openFrom(t *testing.T, dir string, objects BlobStore) *Replica {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	r, err := OpenReplica(context.Background(), objects, dir, ReplicaOptions{Blobs: NewFolderStore(filepath.Join(rp.owner.Dir(), "blobs"))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func poll(t *testing.T, r *Replica) PollStats {
	t.Helper()
	st, err := r.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// dump is every live key of db with its value, read in one transaction.
func dump(t *testing.T, db *DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(it.Item().Key())] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameKV fails unless got holds exactly want's keys and values.
func sameKV(t *testing.T, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("missing %q", k))
		} else if g != v {
			diffs = append(diffs, fmt.Sprintf("differs %q", k))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("extra %q", k))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Fatalf("%d keys differ (of %d): %s", len(diffs), len(want), strings.Join(diffs[:min(len(diffs), 8)], "; "))
	}
}

func sameAsOwner(t *testing.T, r *Replica, owner *DB) {
	t.Helper()
	sameKV(t, dump(t, r.DB()), dump(t, owner))
}

// storeNames lists the objects of s.
func storeNames(t *testing.T, s BlobStore) []string {
	t.Helper()
	var out []string
	if err := s.List(context.Background(), func(b BlobInfo) error { out = append(out, b.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestReplicaBootstrapEqualsOwner: a replica built from a base holds every
// key and value of the owner, serves the tree and its blobs, and refuses
// writes.
func TestReplicaBootstrapEqualsOwner(t *testing.T) {
	rp := newReplication(t, PublishOptions{})
	lim := ShardLimits{MaxSamples: 3}
	var ccs []ChunkCommit
	for i := range 3 {
		ccs = append(ccs, commitWithSamples(t, rp.owner, fmt.Sprintf("/in/v%d.mp4", i), "fp1", 3, lim))
	}
	testCommit(t, rp.owner, "/in/w.mp4", "fp1", 1, 4)
	if _, err := rp.owner.SealOpenShard(); err != nil {
		t.Fatal(err)
	}
	if err := rp.owner.SetShardMD5(0, "0123456789abcdef0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	st := rp.publish(t)
	if !st.Full || st.Bytes == 0 || st.Version == 0 {
		t.Fatalf("first publish: %+v, want a base", st)
	}
	if got := storeNames(t, rp.objects); len(got) != 2 || got[0] != st.Object || got[1] != manifestName(1) {
		t.Fatalf("store holds %v, want the base and manifest 1", got)
	}

	r := rp.open(t, "")
	sameAsOwner(t, r, rp.owner)
	if r.Version() != st.Version {
		t.Errorf("replica at version %d, published %d", r.Version(), st.Version)
	}
	db := r.DB()
	if got, want := names(t, db, ""), names(t, rp.owner, ""); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("root: %v, owner %v", got, want)
	}
	clip := ccs[0].Clips[0]
	e, err := db.Lookup(DirClips, clip.ID.String()+".mp4")
	if err != nil {
		t.Fatal(err)
	}
	br, err := db.OpenBlob(context.Background(), e.Ref)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(io.NewSectionReader(br, 0, br.Size()))
	br.Close()
	if string(b) != "fp1-"+clip.ID.String() {
		t.Errorf("blob through the replica: %q", b)
	}
	if err := db.VerifyBlob(e.Ref); err != nil {
		t.Errorf("verify: %v", err)
	}
	if h, err := db.Shard(0); err != nil || !h.Sealed || h.MD5 == "" {
		t.Errorf("shard 0 on the replica: %+v %v", h, err)
	}
	if got, want := readTour(t, db), readTour(t, rp.owner); got != want {
		t.Errorf("reads differ:\nreplica %s\nowner   %s", got, want)
	}
	if err := db.CommitChunk(ccs[0]); !errors.Is(err, ErrReadOnly) {
		t.Errorf("commit on a replica: %v, want ErrReadOnly", err)
	}
	if err := db.SetShardMD5(0, "x"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("SetShardMD5 on a replica: %v, want ErrReadOnly", err)
	}
}

// TestReplicaFollowsIncrements: commits after the base reach the replica
// as increments (additions and a replacement's deletions), and WatchTree
// on the replica names the changed entries once they are readable.
func TestReplicaFollowsIncrements(t *testing.T) {
	rp := newReplication(t, PublishOptions{})
	old := testCommit(t, rp.owner, "/in/a.mp4", "fp1", 0, 3)
	base := rp.publish(t)
	r := rp.open(t, "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	seen := map[string]bool{} // path -> readable when heard of
	go r.DB().WatchTree(ctx, func(cs []Change) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			_, err := r.DB().Lookup(c.Dir, c.Name)
			seen[c.Path()] = err == nil
		}
	})
	time.Sleep(20 * time.Millisecond)

	added := testCommit(t, rp.owner, "/in/b.mp4", "fp1", 0, 3)
	testCommit(t, rp.owner, "/in/a.mp4", "fp2", 0, 2) // replaces a: its clip 2 goes
	st := rp.publish(t)
	if st.Full || st.Since != base.Version || st.Version <= base.Version {
		t.Fatalf("second publish: %+v, want an increment after %d", st, base.Version)
	}
	ps := poll(t, r)
	if ps.Applied != 1 || ps.Rebuilt || ps.Version != st.Version || ps.Changes == 0 {
		t.Fatalf("poll: %+v", ps)
	}
	sameAsOwner(t, r, rp.owner)
	if ps := poll(t, r); ps.Applied != 0 {
		t.Errorf("a second poll applied %d", ps.Applied)
	}

	newClip := "clips/" + added.Clips[0].ID.String() + ".mp4"
	gone := "clips/" + old.Clips[2].ID.String() + ".mp4"
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		readable, heardNew := seen[newClip]
		gonePresent, heardGone := seen[gone]
		mu.Unlock()
		if heardNew && heardGone {
			if !readable {
				t.Errorf("%s reported before it was readable", newClip)
			}
			if gonePresent {
				t.Errorf("%s reported but still readable", gone)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WatchTree did not report %s and %s: %v", newClip, gone, seen)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPublishRebase: after RebaseAfter increments the next publish is a
// base of a new generation; once its manifest is visible the old objects
// go, and a replica behind it rebuilds, reporting what changed.
func TestPublishRebase(t *testing.T) {
	rp := newReplication(t, PublishOptions{RebaseAfter: 2, Retain: -1})
	testCommit(t, rp.owner, "/in/a.mp4", "fp1", 0, 2)
	rp.publish(t)
	r := rp.open(t, "")
	for i := range 2 {
		testCommit(t, rp.owner, fmt.Sprintf("/in/b%d.mp4", i), "fp1", 0, 2)
		if st := rp.publish(t); st.Full {
			t.Fatalf("publish %d rebased", i+2)
		}
	}
	poll(t, r)
	late := testCommit(t, rp.owner, "/in/c.mp4", "fp1", 0, 2)
	st := rp.publish(t)
	if m, err := LatestManifest(context.Background(), rp.objects); !st.Full || st.Increments != 0 || err != nil || m.Gen != 2 {
		t.Fatalf("publish after 2 increments: %+v (manifest %+v, %v), want a base of generation 2", st, m, err)
	}
	if got := storeNames(t, rp.objects); fmt.Sprint(got) != fmt.Sprint([]string{st.Object, manifestName(4)}) {
		t.Errorf("after the rebase the store holds %v", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := make(chan []Change, 16)
	go r.DB().WatchTree(ctx, func(cs []Change) { heard <- cs })
	time.Sleep(20 * time.Millisecond)
	ps := poll(t, r)
	if !ps.Rebuilt || ps.Version != st.Version {
		t.Fatalf("poll after the rebase: %+v", ps)
	}
	sameAsOwner(t, r, rp.owner)
	want := "clips/" + late.Clips[0].ID.String() + ".mp4"
	select {
	case cs := <-heard:
		if !slices.ContainsFunc(cs, func(c Change) bool { return c.Path() == want }) {
			t.Errorf("the rebuild reported %v, not %s", cs, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the rebuild reported no change")
	}
	if ents, _ := os.ReadDir(r.dir); len(ents) != 4 { // LOCK, state.json, tmp, one store
		t.Errorf("replica folder after the rebuild: %v", ents)
	}
}

// TestReplicaRestartFromDir: a replica reopened from its folder serves
// what it had without fetching the base again, then catches up.
func TestReplicaRestartFromDir(t *testing.T) {
	rp := newReplication(t, PublishOptions{})
	testCommit(t, rp.owner, "/in/a.mp4", "fp1", 0, 3)
	rp.publish(t)
	dir := t.TempDir()
	r := rp.open(t, dir)
	store := r.state.Store
	before := dump(t, r.DB())
	r.Close()

	testCommit(t, rp.owner, "/in/b.mp4", "fp1", 0, 3)
	rp.publish(t)
	r = rp.open(t, dir)
	if r.state.Store != store {
		t.Errorf("reopened on store %s, had %s", r.state.Store, store)
	}
	sameKV(t, dump(t, r.DB()), before)
	if ps := poll(t, r); ps.Applied != 1 || ps.Rebuilt {
		t.Fatalf("poll after the restart: %+v", ps)
	}
	sameAsOwner(t, r, rp.owner)
}

// TestPublisherRestart: a new publisher goes on with the increments when
// nothing was committed since the last publish (also across a reopen of
// the database), and rebases when something was.
func TestPublisherRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	owner, err := Open(dir, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	objects := NewFolderStore(filepath.Join(t.TempDir(), "index"))
	rp := &replication{owner: owner, objects: objects, pub: owner.NewPublisher(objects, PublishOptions{})}
	testCommit(t, owner, "/in/a.mp4", "fp1", 0, 2)
	rp.publish(t)
	r := rp.open(t, "")

	restart := func(reopen bool) {
		rp.pub.Close()
		if reopen {
			if err := rp.owner.Close(); err != nil {
				t.Fatal(err)
			}
			if rp.owner, err = Open(dir, Options{}); err != nil {
				t.Fatal(err)
			}
		}
		rp.pub = rp.owner.NewPublisher(objects, PublishOptions{})
	}
	restart(false)
	if st := rp.publish(t); st.Object != "" {
		t.Errorf("publish with nothing new after a restart: %+v", st)
	}
	testCommit(t, rp.owner, "/in/b.mp4", "fp1", 0, 2)
	if st := rp.publish(t); st.Full || st.Object == "" {
		t.Errorf("publish after a restart and a commit: %+v, want an increment", st)
	}
	restart(true)
	testCommit(t, rp.owner, "/in/c.mp4", "fp1", 0, 2)
	if st := rp.publish(t); st.Full || st.Object == "" {
		t.Errorf("publish after a reopen, then a commit: %+v, want an increment", st)
	}
	rp.pub.Close()
	testCommit(t, rp.owner, "/in/a.mp4", "fp2", 0, 1) // deletes, while no publisher holds them
	rp.pub = rp.owner.NewPublisher(objects, PublishOptions{})
	if st := rp.publish(t); !st.Full {
		t.Errorf("publish of commits made while no publisher held them: %+v, want a rebase", st)
	}
	poll(t, r)
	sameAsOwner(t, r, rp.owner)
	rp.pub.Close()
	rp.owner.Close()
}
