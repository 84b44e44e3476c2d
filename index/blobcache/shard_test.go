package blobcache

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clipfs/clipfs/index"
	"github.com/google/uuid"
)

// shardDB is a database over a cache over s holding one sealed shard of
// nclips samples, each one blob member of size bytes; it returns the
// members' bytes in shard order.
func shardDB(t *testing.T, s *remote, nclips, size int, opt Options) (*index.DB, *Cache, [][]byte) {
	t.Helper()
	opt.NoCopyOnPut = true // every member is fetched
	c := newCache(t, s, 256<<20, opt)
	db, err := index.Open(filepath.Join(t.TempDir(), "db"), index.Options{Create: true, Blobs: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	src := "/videos/v.mp4"
	cc := index.ChunkCommit{
		Video:  index.VideoRecord{Source: src, Rel: "v.mp4", Fingerprint: "x", NumClipChunks: 1, NumTotalClips: nclips},
		Chunk:  index.ChunkRecord{ID: uuid.NewSHA1(uuid.NameSpaceURL, []byte(src)), Source: src},
		Limits: index.ShardLimits{MaxSamples: nclips},
	}
	var data [][]byte
	for i := range nclips {
		b := content(uint64(1000+i), size)
		p := db.TempPath(".mp4")
		os.WriteFile(p, b, 0o644)
		blob, err := db.AdoptBlob(p)
		if err != nil {
			t.Fatal(err)
		}
		id := uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%s_%d", src, i))
		cc.Chunk.Clips = append(cc.Chunk.Clips, id)
		cc.Clips = append(cc.Clips, index.ClipRecord{ID: id, Source: src, Span: [2]float64{float64(i), float64(i + 1)},
			Media: &index.ClipMedia{Blob: blob.Name, NumBytes: blob.Size}})
		cc.Samples = append(cc.Samples, index.ShardSample{Clip: id, Key: fmt.Sprintf("%06d", i), Order: fmt.Sprintf("%06d", i), MTime: 1,
			Members: []index.ShardMember{{Ext: "mp4", Size: blob.Size, Blob: blob.Name}}})
		data = append(data, b)
	}
	if err := db.CommitChunk(cc); err != nil {
		t.Fatal(err)
	}
	return db, c, data
}

// TestShardReadInOrderFetchesMembersAhead: reading a shard's members in
// order, as a tar stream does, fetches each member once, whole, in member
// order, ahead of the reader (verification fetches it), and serves the
// reads themselves from the cache.
func TestShardReadInOrderFetchesMembersAhead(t *testing.T) {
	s := newRemote(t)
	const nclips, size = 24, 200 << 10
	opt := testOptions()
	db, c, data := shardDB(t, s, nclips, size, opt)
	s.reset()
	s.latency.Store(int64(5 * time.Millisecond))
	sc, err := db.OpenShardContent(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if len(sc.Files) != nclips {
		t.Fatalf("%d members, want %d", len(sc.Files), nclips)
	}
	buf := make([]byte, 64<<10)
	for i, f := range sc.Files {
		var got []byte
		for off := int64(0); off < f.Size; off += int64(len(buf)) {
			p := buf[:min(int64(len(buf)), f.Size-off)]
			if _, err := sc.ReadMember(i, p, off); err != nil {
				t.Fatalf("member %d at %d: %v", i, off, err)
			}
			got = append(got, p...)
		}
		if !bytes.Equal(got, data[i]) {
			t.Fatalf("member %d: wrong bytes", i)
		}
		if i == 3 { // four read in order: eight more are on their way
			deadline := time.Now().Add(10 * time.Second)
			for c.Stats().Files < 4+8 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if n := c.Stats().Files; n < 4+8 {
				t.Errorf("after reading 4 members in order the cache holds %d, want 12 (8 fetched ahead)", n)
			}
		}
	}
	perMember := (int64(size) + opt.PartSize - 1) / opt.PartSize
	if got := s.reads.Load(); got != nclips*perMember {
		t.Errorf("%d ranged reads for %d members, want %d: each fetched once, whole", got, nclips, nclips*perMember)
	}
	if got := s.bytes.Load(); got != nclips*size {
		t.Errorf("fetched %d bytes of %d", got, nclips*size)
	}
	if st := c.Stats(); st.Files != nclips {
		t.Errorf("cache holds %d files after the shard, want %d", st.Files, nclips)
	}
}
