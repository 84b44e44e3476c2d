package index

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestWatchTreeNamesChangedEntries: a commit, a replacement and a seal each
// reach the watcher as the tree entries they touched, and those entries are
// readable when the watcher hears of them.
func TestWatchTreeNamesChangedEntries(t *testing.T) {
	db := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	seen := map[string]bool{}
	visible := map[string]bool{}
	done := make(chan error, 1)
	go func() {
		done <- db.WatchTree(ctx, func(cs []Change) {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range cs {
				seen[c.Path()] = true
				_, err := db.Lookup(c.Dir, c.Name)
				visible[c.Path()] = err == nil
			}
		})
	}()
	time.Sleep(50 * time.Millisecond) // let the subscription start
	wait := func(p string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			ok := seen[p]
			mu.Unlock()
			if ok {
				return
			}
		}
		t.Fatalf("no change reported for %s; saw %v", p, seen)
	}

	cc := commitWithSamples(t, db, "/v/a.mp4", "fp1", 3, DefaultShardLimits())
	clip := cc.Clips[0].ID.String()
	for _, p := range []string{"clips/" + clip + ".mp4", "metas/v0/" + clip + ".json", "processed_videos/a.mp4.json",
		"processed_clip_chunks/a.mp4_0.json", "clips", "metas/v0", "metas", "iv2_embd/" + clip + ".pickle"} {
		wait(p)
		mu.Lock()
		if !visible[p] {
			t.Errorf("%s reported before it was readable", p)
		}
		mu.Unlock()
	}

	// A new fingerprint removes the old clips: their deletion is reported.
	mu.Lock()
	clear(seen)
	mu.Unlock()
	gone := cc.Clips[2].ID.String() // clips 0 and 1 keep their ids
	testCommit(t, db, "/v/a.mp4", "fp2", 0, 2)
	wait("clips/" + gone + ".mp4")
	mu.Lock()
	if visible["clips/"+gone+".mp4"] {
		t.Errorf("replaced clip still readable")
	}
	mu.Unlock()

	commitWithSamples(t, db, "/v/b.mp4", "fp1", 3, DefaultShardLimits())
	if _, err := db.SealOpenShard(); err != nil {
		t.Fatal(err)
	}
	wait("wds/" + ShardIndexName)
	wait(fmt.Sprintf("wds/%s", ShardName(0)))

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchTree did not return after cancel")
	}
}
