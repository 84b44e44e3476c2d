package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

func videoKey(source string) []byte   { return []byte("v/" + source) }
func chunkKey(id uuid.UUID) []byte    { return []byte("k/" + id.String()) }
func clipKey(id uuid.UUID) []byte     { return []byte("c/" + id.String()) }
func manifestKey(id uuid.UUID) []byte { return []byte("m/" + id.String()) }
func embedKey(prefix string, clip uuid.UUID) []byte {
	return []byte("e/" + prefix + "/" + clip.String())
}

// CommitChunk makes one chunk visible: its clips, embeddings, tree entries,
// chunk record and the updated video record, in one transaction. The blobs
// the clips name must already be adopted. If the stored video has another
// fingerprint, everything it had is replaced.
func (db *DB) CommitChunk(cc ChunkCommit) error {
	if cc.Chunk.Source != cc.Video.Source {
		return fmt.Errorf("index: chunk %s: source %q is not the video's %q", cc.Chunk.ID, cc.Chunk.Source, cc.Video.Source)
	}
	return db.commit(cc.Video, &cc)
}

// CommitVideo records a video that has no chunk to commit (too short for a
// clip): its processed_videos entry appears, replacing an older version.
func (db *DB) CommitVideo(v VideoRecord) error {
	return db.commit(v, nil)
}

func (db *DB) commit(v VideoRecord, cc *ChunkCommit) error {
	if db.readOnly {
		return ErrReadOnly
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	var dropped []string
	refs := &blobRefs{db: db}
	err := db.update(func(txn *badger.Txn) error {
		var err error
		v, dropped, err = mergeVideo(txn, v, cc)
		if err != nil {
			return err
		}
		w := newTreeWrites(v.CuratedAt)
		w.file(VideoMetaPath(v.Rel), KindVideoMeta, -1, v.Source, false)
		if cc != nil {
			if err := writeChunk(txn, w, refs, v, cc); err != nil {
				return err
			}
		}
		if err := setJSON(txn, videoKey(v.Source), v); err != nil {
			return err
		}
		return writeTree(txn, w)
	})
	if err != nil {
		return fmt.Errorf("index: commit %s: %w", v.Source, err)
	}
	refs.done()
	for _, b := range dropped {
		db.DiscardBlob(b)
	}
	return nil
}

// mergeVideo folds the stored video record into v: a changed fingerprint
// deletes the old video's keys; the same one keeps its committed chunks.
// It returns the blobs no longer referenced.
func mergeVideo(txn *badger.Txn, v VideoRecord, cc *ChunkCommit) (VideoRecord, []string, error) {
	var old VideoRecord
	err := getJSON(txn, videoKey(v.Source), &old)
	if errors.Is(err, ErrNotFound) {
		v.ChunksDone = nil
	} else if err != nil {
		return v, nil, err
	}
	var dropped []string
	if err == nil && old.Fingerprint != v.Fingerprint {
		for _, c := range old.ChunksDone {
			d, err := deleteManifest(txn, c.ID)
			if err != nil {
				return v, nil, err
			}
			dropped = append(dropped, d...)
		}
		v.ChunksDone = nil
	} else if err == nil {
		v.ChunksDone = old.ChunksDone
	}
	if cc != nil {
		if v.HasChunk(cc.Chunk.Index) { // re-commit: replace the chunk itself
			d, err := deleteManifest(txn, cc.Chunk.ID)
			if err != nil {
				return v, nil, err
			}
			dropped = append(dropped, d...)
			v.ChunksDone = slices.DeleteFunc(slices.Clone(v.ChunksDone), func(c ChunkRef) bool { return c.Index == cc.Chunk.Index })
		}
		v.ChunksDone = append(v.ChunksDone, ChunkRef{Index: cc.Chunk.Index, ID: cc.Chunk.ID})
		slices.SortFunc(v.ChunksDone, func(a, b ChunkRef) int { return a.Index - b.Index })
	}
	return v, dropped, nil
}

func writeChunk(txn *badger.Txn, w *treeWrites, refs *blobRefs, v VideoRecord, cc *ChunkCommit) error {
	ch := cc.Chunk
	ch.CuratedAt = v.CuratedAt
	var owned [][]byte
	own := func(k []byte) { owned = append(owned, k) }
	passed := map[uuid.UUID]bool{}
	for i := range cc.Clips {
		c := &cc.Clips[i]
		c.Chunk, c.CuratedAt = ch.ID, v.CuratedAt
		passed[c.ID] = !c.Filtered
		if err := setJSON(txn, clipKey(c.ID), c); err != nil {
			return err
		}
		own(clipKey(c.ID))
		for _, b := range clipTree(w, c) {
			if err := refs.set(txn, b); err != nil {
				return err
			}
			own(blobKey(b))
		}
	}
	embedded := map[string]bool{}
	for _, e := range cc.Embeddings {
		if !passed[e.Clip] {
			continue
		}
		if err := txn.Set(embedKey(e.Prefix, e.Clip), encodeEmbedding(e.Embedding)); err != nil {
			return err
		}
		own(embedKey(e.Prefix, e.Clip))
		w.file(EmbedDir(e.Prefix)+"/"+e.Clip.String()+".pickle", KindEmbedPickle, -1, e.Prefix+"/"+e.Clip.String(), true)
		embedded[e.Prefix] = true
	}
	ch.Embedded = nil
	for p := range embedded {
		ch.Embedded = append(ch.Embedded, p)
		w.file(EmbedParquetDir(p)+"/"+ch.ID.String()+".parquet", KindEmbedParquet, -1, p+"/"+ch.ID.String(), true)
	}
	slices.Sort(ch.Embedded)
	sampleKeys, err := addSamples(txn, cc.Samples, cc.Limits, v.CuratedAt)
	if err != nil {
		return err
	}
	owned = append(owned, sampleKeys...)
	w.file(ChunkMetaPath(v.Rel, ch.Index), KindChunkMeta, -1, ch.ID.String(), true)
	if err := setJSON(txn, chunkKey(ch.ID), ch); err != nil {
		return err
	}
	own(chunkKey(ch.ID))
	for _, k := range w.owned {
		own([]byte(k))
	}
	return txn.Set(manifestKey(ch.ID), encodeManifest(owned))
}

// clipTree adds a clip's tree entries and returns the blobs it references.
func clipTree(w *treeWrites, c *ClipRecord) []string {
	id := c.ID.String()
	w.file(DirMetas+"/"+id+".json", KindClipMeta, -1, id, true)
	var blobs []string
	if c.Stored() {
		dir := DirClips
		if c.Filtered {
			dir = DirFilteredClips
		}
		w.file(dir+"/"+id+".mp4", KindBlob, c.Media.NumBytes, c.Media.Blob, true)
		blobs = append(blobs, c.Media.Blob)
	}
	if len(c.Previews) > 0 && !c.Filtered {
		w.ownedDir(DirPreviews + "/" + id)
		for _, p := range c.Previews {
			name := fmt.Sprintf("%s/%s/%d_%d.webp", DirPreviews, id, p.Start, p.End)
			w.file(name, KindBlob, p.Size, p.Blob, true)
			blobs = append(blobs, p.Blob)
		}
	}
	return blobs
}

// writeTree writes the collected entries; shared folders that already exist
// keep their entry (and mtime).
func writeTree(txn *badger.Txn, w *treeWrites) error {
	owned := map[string]bool{}
	for _, k := range w.owned {
		owned[k] = true
	}
	for k, val := range w.entries {
		if !owned[k] && val[0] == byte(KindDir) {
			if _, err := txn.Get([]byte(k)); err == nil {
				continue
			}
		}
		if err := txn.Set([]byte(k), val); err != nil {
			return err
		}
	}
	return nil
}

// deleteManifest deletes every key chunk id wrote and returns its blobs.
func deleteManifest(txn *badger.Txn, id uuid.UUID) ([]string, error) {
	item, err := txn.Get(manifestKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	keys, err := decodeManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("manifest of chunk %s: %w", id, err)
	}
	var blobs []string
	recount := false
	for _, k := range keys {
		keep, err := keepForShard(txn, string(k))
		if err != nil {
			return nil, err
		}
		if keep {
			continue // a sealed shard holds it
		}
		if _, ok := isShardSampleKey(string(k)); ok {
			recount = true
		}
		if b, ok := isBlobRef(string(k)); ok {
			held, err := keepForShard(txn, string(shardBlobKey(b)))
			if err != nil {
				return nil, err
			}
			if !held {
				blobs = append(blobs, b)
			}
		}
		if err := txn.Delete(k); err != nil {
			return nil, err
		}
	}
	if recount {
		if err := recountOpenShard(txn); err != nil {
			return nil, err
		}
	}
	return blobs, txn.Delete(manifestKey(id))
}

func encodeManifest(keys [][]byte) []byte {
	var b []byte
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

func decodeManifest(b []byte) ([][]byte, error) {
	var keys [][]byte
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, errors.New("corrupt manifest")
		}
		keys = append(keys, b[w:w+int(n)])
		b = b[w+int(n):]
	}
	return keys, nil
}

func setJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return txn.Set(key, b)
}

func getJSON(txn *badger.Txn, key []byte, v any) error {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	return item.Value(func(b []byte) error {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s: corrupt record: %w", key, err)
		}
		return nil
	})
}

// Now is the record timestamp for a commit made now.
func Now() int64 { return time.Now().Unix() }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// ClipTableName is index.parquet at the root: one row per clip.
const ClipTableName = "index.parquet"

// PublishFile serves adopted blob b at the root as name (a derived file
// such as index.parquet), replacing the blob served there before, which is
// removed once the switch is committed.
func (db *DB) PublishFile(name string, b Blob) error {
	if db.readOnly {
		return ErrReadOnly
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	var old string
	refs := &blobRefs{db: db}
	err := db.update(func(txn *badger.Txn) error {
		item, err := txn.Get(entryKey("", name))
		if err == nil {
			err = item.Value(func(v []byte) error {
				e, err := decodeEntry(name, v)
				old = e.Ref
				return err
			})
		}
		if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if old != "" {
			if err := txn.Delete(blobKey(old)); err != nil {
				return err
			}
		}
		if err := refs.set(txn, b.Name); err != nil {
			return err
		}
		return txn.Set(entryKey("", name), encodeEntry(Entry{Kind: KindBlob, Size: b.Size, MTime: Now(), Ref: b.Name}))
	})
	if err != nil {
		return fmt.Errorf("index: publish %s: %w", name, err)
	}
	refs.done()
	if old != "" && old != b.Name {
		db.DiscardBlob(old)
	}
	return nil
}

// Clips calls fn for every clip record, in id order.
func (db *DB) Clips(fn func(ClipRecord) error) error {
	return scanJSON(db, "c/", fn)
}
