package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// commitWithSamples commits a chunk whose passed clips each become a sample.
func commitWithSamples(t *testing.T, db *DB, source, fp string, nclips int, lim ShardLimits) ChunkCommit {
	t.Helper()
	cc := testChunk(t, db, source, fp, 0, nclips)
	for _, c := range cc.Clips {
		if c.Filtered {
			continue
		}
		cc.Samples = append(cc.Samples, ShardSample{Clip: c.ID, Key: c.ID.String(), MTime: 1, Members: []ShardMember{
			{Ext: "mp4", Size: c.Media.NumBytes, Blob: c.Media.Blob},
			{Ext: "json", Size: 3, Data: []byte("{}\n")},
		}})
	}
	cc.Limits = lim
	if err := db.CommitChunk(cc); err != nil {
		t.Fatal(err)
	}
	return cc
}

func sealedShards(t *testing.T, db *DB) []ShardHeader {
	t.Helper()
	var out []ShardHeader
	if err := db.SealedShards(func(h ShardHeader) error { out = append(out, h); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestShardsSealByCountAndAtEnd(t *testing.T) {
	db := openTemp(t)
	lim := ShardLimits{MaxSamples: 3}
	commitWithSamples(t, db, "/in/a.mp4", "fp", 4, lim) // 3 passed (clip 1 filtered)
	commitWithSamples(t, db, "/in/b.mp4", "fp", 4, lim) // 3 more: seals #0, #1
	commitWithSamples(t, db, "/in/c.mp4", "fp", 2, lim) // 1 in the open #2
	hs := sealedShards(t, db)
	if len(hs) != 2 || hs[0].Samples != 3 || hs[1].Samples != 3 {
		t.Fatalf("sealed %+v", hs)
	}
	if names(t, db, DirShards)[0] != "shard-000000.tar" || len(names(t, db, DirShards)) != 3 {
		t.Fatalf("wds/ lists %v", names(t, db, DirShards))
	}
	if ok, err := db.SealOpenShard(); !ok || err != nil {
		t.Fatalf("seal open: %v %v", ok, err)
	}
	if ok, _ := db.SealOpenShard(); ok {
		t.Fatal("sealed an empty shard")
	}
	hs = sealedShards(t, db)
	if len(hs) != 3 || hs[2].Samples != 1 {
		t.Fatalf("after end-of-run seal: %+v", hs)
	}
	samples, _ := db.ShardSamples(0)
	var sizes []int64
	for _, s := range samples {
		for _, m := range s.Members {
			sizes = append(sizes, m.Size)
		}
	}
	if hs[0].Size != tarSize(sizes) {
		t.Fatalf("size %d, want %d", hs[0].Size, tarSize(sizes))
	}
	e, err := db.Lookup(DirShards, ShardName(0))
	if err != nil || e.Size != hs[0].Size || e.Kind != KindShard {
		t.Fatalf("entry %+v %v", e, err)
	}
}

func TestShardsSealByBytes(t *testing.T) {
	db := openTemp(t)
	cc := commitWithSamples(t, db, "/in/a.mp4", "fp", 6, ShardLimits{TargetBytes: 1})
	if hs := sealedShards(t, db); len(hs) != len(cc.Samples) {
		t.Fatalf("%d shards for %d samples with a 1-byte target", len(hs), len(cc.Samples))
	}
}

func TestSealedShardOutlivesReplacement(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := Open(dir, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	old := commitWithSamples(t, db, "/in/a.mp4", "fp1", 4, ShardLimits{MaxSamples: 2}) // seals #0 (2), #1 open (1)
	before, _ := db.ShardSamples(0)
	commitWithSamples(t, db, "/in/a.mp4", "fp2", 2, ShardLimits{MaxSamples: 2})
	after, _ := db.ShardSamples(0)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatal("sealed shard changed after its video was replaced")
	}
	for _, s := range after {
		if _, err := os.Stat(db.blobPath(s.Members[0].Blob)); err != nil {
			t.Fatalf("blob of sealed shard removed: %v", err)
		}
	}
	// The open shard lost the old sample and gained the new one.
	open, _ := db.ShardSamples(1)
	if len(open) != 1 || open[0].Clip == old.Clips[3].ID {
		t.Fatalf("open shard samples: %d", len(open))
	}
	db.Close()
	db, err = Open(dir, Options{}) // the sweep keeps shard-held blobs
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range after {
		if _, err := os.Stat(db.blobPath(s.Members[0].Blob)); err != nil {
			t.Fatalf("sweep removed a blob a sealed shard holds: %v", err)
		}
	}
	if _, err := db.Clip(old.Clips[0].ID); errors.Is(err, ErrNotFound) {
		t.Log("replaced clip gone from metas, as expected; its shard copy stays")
	}
}

func TestSealOrdersSamplesCanonically(t *testing.T) {
	db := openTemp(t)
	cc := testChunk(t, db, "/in/a.mp4", "fp", 0, 5)
	for i, c := range cc.Clips { // committed in reverse of their order key
		cc.Samples = append(cc.Samples, ShardSample{Clip: c.ID, Key: c.ID.String(), Order: fmt.Sprintf("%03d", 100-i),
			Members: []ShardMember{{Ext: "json", Size: 2, Data: []byte("{}")}}})
	}
	if err := db.CommitChunk(cc); err != nil {
		t.Fatal(err)
	}
	open, _ := db.ShardSamples(0)
	if open[0].Clip != cc.Clips[0].ID {
		t.Fatal("open shard not in sequence order")
	}
	db.SealOpenShard()
	sealed, err := db.ShardSamples(0)
	if err != nil || len(sealed) != 5 {
		t.Fatalf("%d samples, %v", len(sealed), err)
	}
	for i, s := range sealed {
		if s.Clip != cc.Clips[4-i].ID {
			t.Fatalf("sample %d is %s, want the canonical order", i, s.Order)
		}
	}
}

func TestSetShardMD5OnlyOnSealedShards(t *testing.T) {
	db := openTemp(t)
	commitWithSamples(t, db, "/in/a.mp4", "fp", 4, ShardLimits{MaxSamples: 2})
	if err := db.SetShardMD5(1, "abc"); err == nil {
		t.Error("md5 set on the open shard")
	}
	if err := db.SetShardMD5(0, "0123"); err != nil {
		t.Fatal(err)
	}
	if h, _ := db.Shard(0); h.MD5 != "0123" || !h.Sealed {
		t.Errorf("header %+v", h)
	}
}
