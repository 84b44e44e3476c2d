package treetest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipfs/clipfs/index"
	"github.com/google/uuid"
)

// Index is a test index: one video whose clips (every third filtered)
// have iv2 embeddings where they passed.
type Index struct {
	DB    *index.DB
	Clips []index.ClipRecord
	Chunk index.ChunkRecord // the video's first chunk
}

// New builds an Index of nclips clips with its blobs in store (nil: the
// index's own folder); it is closed when the test ends.
func New(t testing.TB, nclips int, store index.BlobStore) Index {
	t.Helper()
	db, err := index.Open(filepath.Join(t.TempDir(), "db"), index.Options{Create: true, Blobs: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	src := "/videos/a b/ü.mp4"
	v := index.VideoRecord{Source: src, Rel: "a b/ü.mp4", Fingerprint: "x", Width: 640, Height: 360, FrameRate: 25,
		NumFrames: 250 * nclips, Duration: 10 * float64(nclips), VideoCodec: "h264", PixelFormat: "yuv420p",
		NumTotalClips: nclips, NumClipChunks: 1, CuratedAt: 1700000000}
	const perChunk = 32
	v.NumClipChunks = (nclips + perChunk - 1) / perChunk
	var blobs []index.Blob
	for i := range min(nclips, 10) {
		p := db.TempPath(".mp4")
		os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 1000+i), 0o644)
		b, err := db.AdoptBlob(p)
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	var first index.ChunkRecord
	var all []index.ClipRecord
	for i0 := 0; i0 < nclips; i0 += perChunk {
		ci := i0 / perChunk
		ch := index.ChunkRecord{ID: uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%s_%d", src, ci)), Source: src, Index: ci}
		cc := commitClips(t, db, v, ch, i0, min(nclips, i0+perChunk), blobs)
		if ci == 0 {
			first = cc.Chunk
		}
		all = append(all, cc.Clips...)
	}
	return Index{DB: db, Clips: all, Chunk: first}
}

func commitClips(t testing.TB, db *index.DB, v index.VideoRecord, ch index.ChunkRecord, from, to int, blobs []index.Blob) index.ChunkCommit {
	t.Helper()
	src := v.Source
	cc := index.ChunkCommit{Video: v}
	for i := from; i < to; i++ {
		b := blobs[i%len(blobs)]
		c := index.ClipRecord{ID: uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%s_%d_%d", src, 250*i, 250*i+250)),
			Source: src, Span: [2]float64{10 * float64(i), 10*float64(i) + 10}, WidthSource: 640, HeightSource: 360,
			FrameRateSource: 25, Filtered: i%3 == 2, Windows: []index.Window{{Start: 0, End: 249}},
			Media: &index.ClipMedia{Blob: b.Name, Width: 640, Height: 360, FrameRate: 25, NumFrames: 250, VideoCodec: "h264", NumBytes: b.Size}}
		if c.Filtered {
			ch.Filtered = append(ch.Filtered, c.ID)
		} else {
			ch.Clips = append(ch.Clips, c.ID)
			vec := make([]byte, 4*512)
			for j := range 512 {
				binary.LittleEndian.PutUint32(vec[4*j:], math.Float32bits(float32(i)+float32(j)/512))
			}
			cc.Embeddings = append(cc.Embeddings, index.EmbeddingRecord{Prefix: "iv2", Clip: c.ID,
				Embedding: index.Embedding{DType: "<f4", Shape: []int{1, 512}, Data: vec}})
		}
		cc.Clips = append(cc.Clips, c)
	}
	cc.Chunk = ch
	if err := db.CommitChunk(cc); err != nil {
		t.Fatal(err)
	}
	return cc
}

// RemoteStore hides the local files of the store it wraps (LocalPath), as
// an object store would: blobs are read through its ReaderAt alone.
type RemoteStore struct{ index.BlobStore }

// NewRemote is New over a store without local files; the folder behind it
// is returned for tests that look at the blob files.
func NewRemote(t testing.TB, nclips int) (Index, *index.FolderStore) {
	t.Helper()
	folder := index.NewFolderStore(filepath.Join(t.TempDir(), "blobs"))
	return New(t, nclips, RemoteStore{folder}), folder
}

// FolderBlob is the file of blob name in folder.
func FolderBlob(t testing.TB, folder *index.FolderStore, name string) string {
	t.Helper()
	p, _ := folder.LocalPath(name)
	return p
}

// LocalBlob is the local file of blob name.
func LocalBlob(t testing.TB, db *index.DB, name string) string {
	t.Helper()
	p, ok := db.BlobLocalPath(name)
	if !ok {
		t.Fatalf("blob %s has no local file", name)
	}
	return p
}
