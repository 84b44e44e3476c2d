package index

import (
	"encoding/binary"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Kind says what a tree entry is and how its bytes are made.
type Kind uint8

const (
	KindDir          Kind = iota + 1
	KindBlob              // bytes are blob Ref (clip media, preview)
	KindClipMeta          // metas/v0 JSON of clip Ref
	KindEmbedPickle       // numpy pickle; Ref = "<prefix>/<clip uuid>"
	KindEmbedParquet      // per-chunk Parquet; Ref = "<prefix>/<chunk uuid>"
	KindVideoMeta         // processed_videos JSON; Ref = source path
	KindChunkMeta         // processed_clip_chunks JSON; Ref = chunk uuid
	KindShard             // a sealed WebDataset shard; Ref = its number; Size exact
	KindShardIndex        // wds/shards.json, the wids index
)

// Entry is one name in a folder of the served tree.
type Entry struct {
	Name  string
	Kind  Kind
	Size  int64 // exact for blobs; -1 when the bytes are rendered on demand
	MTime int64 // unix seconds
	Ref   string
}

// IsDir reports whether the entry is a folder.
func (e Entry) IsDir() bool { return e.Kind == KindDir }

// Top-level folders of docs/formats.md §1.
const (
	DirClips         = "clips"
	DirFilteredClips = "filtered_clips"
	DirPreviews      = "previews"
	DirMetas         = "metas/v0"
	DirVideos        = "processed_videos"
	DirChunks        = "processed_clip_chunks"
)

// EmbedDir is `<p>_embd`, the folder of per-clip pickles of prefix p.
func EmbedDir(prefix string) string { return prefix + "_embd" }

// EmbedParquetDir is `<p>_embd_parquet`, the folder of per-chunk Parquet files.
func EmbedParquetDir(prefix string) string { return prefix + "_embd_parquet" }

// VideoMetaPath is processed_videos/<rel>.json.
func VideoMetaPath(rel string) string { return DirVideos + "/" + rel + ".json" }

// ChunkMetaPath is processed_clip_chunks/<rel>_<index>.json.
func ChunkMetaPath(rel string, index int) string {
	return DirChunks + "/" + rel + "_" + strconv.Itoa(index) + ".json"
}

func entryKey(dir, name string) []byte {
	k := make([]byte, 0, 3+len(dir)+len(name))
	k = append(k, "n/"...)
	k = append(k, dir...)
	k = append(k, 0)
	return append(k, name...)
}

func dirPrefix(dir string) []byte { return entryKey(dir, "") }

func encodeEntry(e Entry) []byte {
	b := make([]byte, 0, 24+len(e.Ref))
	b = append(b, byte(e.Kind))
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendVarint(b, e.MTime)
	return append(b, e.Ref...)
}

func decodeEntry(name string, b []byte) (Entry, error) {
	if len(b) < 3 {
		return Entry{}, fmt.Errorf("index: entry %q: short value", name)
	}
	e := Entry{Name: name, Kind: Kind(b[0])}
	b = b[1:]
	var n int
	if e.Size, n = binary.Varint(b); n <= 0 {
		return Entry{}, fmt.Errorf("index: entry %q: bad size", name)
	}
	b = b[n:]
	if e.MTime, n = binary.Varint(b); n <= 0 {
		return Entry{}, fmt.Errorf("index: entry %q: bad mtime", name)
	}
	e.Ref = string(b[n:])
	return e, nil
}

// treeWrites collects the tree entries a commit adds, creating parent
// folders as needed (each parent once per commit).
type treeWrites struct {
	mtime   int64
	entries map[string][]byte // key -> value
	owned   []string          // keys owned by the chunk (deleted on replace)
}

func newTreeWrites(mtime int64) *treeWrites {
	return &treeWrites{mtime: mtime, entries: map[string][]byte{}}
}

// file adds file p (slash-separated, relative to the root) and its parents.
// Owned files are removed when their chunk is replaced.
func (w *treeWrites) file(p string, kind Kind, size int64, ref string, owned bool) {
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	k := string(entryKey(dir, name))
	w.entries[k] = encodeEntry(Entry{Kind: kind, Size: size, MTime: w.mtime, Ref: ref})
	if owned {
		w.owned = append(w.owned, k)
	}
	w.parents(dir)
}

// ownedDir adds folder p and marks it owned (previews/<uuid>).
func (w *treeWrites) ownedDir(p string) {
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	k := string(entryKey(dir, name))
	w.entries[k] = encodeEntry(Entry{Kind: KindDir, Size: -1, MTime: w.mtime})
	w.owned = append(w.owned, k)
	w.parents(dir)
}

func (w *treeWrites) parents(dir string) {
	for dir != "" {
		parent, name := path.Split(dir)
		parent = strings.TrimSuffix(parent, "/")
		k := string(entryKey(parent, name))
		if _, ok := w.entries[k]; ok {
			return
		}
		w.entries[k] = encodeEntry(Entry{Kind: KindDir, Size: -1, MTime: w.mtime})
		dir = parent
	}
}
