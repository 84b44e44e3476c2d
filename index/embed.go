package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// dtypeSize is the byte width of the dtypes an Embedding may hold.
func dtypeSize(dtype string) (int, error) {
	switch dtype {
	case "<f4":
		return 4, nil
	case "<f2":
		return 2, nil
	}
	return 0, fmt.Errorf("unsupported dtype %q (want <f4 or <f2)", dtype)
}

// Validate checks that the data length matches dtype and shape.
func (e Embedding) Validate() error {
	size, err := dtypeSize(e.DType)
	if err != nil {
		return err
	}
	n := 1
	for _, d := range e.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", e.Shape)
		}
		n *= d
	}
	if n*size != len(e.Data) {
		return fmt.Errorf("shape %v of %s needs %d bytes, have %d", e.Shape, e.DType, n*size, len(e.Data))
	}
	return nil
}

func encodeEmbedding(e Embedding) []byte {
	b := []byte{byte(len(e.DType))}
	b = append(b, e.DType...)
	b = binary.AppendUvarint(b, uint64(len(e.Shape)))
	for _, d := range e.Shape {
		b = binary.AppendUvarint(b, uint64(d))
	}
	return append(b, e.Data...)
}

func decodeEmbedding(b []byte) (Embedding, error) {
	bad := errors.New("corrupt embedding")
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return Embedding{}, bad
	}
	e := Embedding{DType: string(b[1 : 1+b[0]])}
	b = b[1+b[0]:]
	nd, w := binary.Uvarint(b)
	if w <= 0 || nd > 8 {
		return Embedding{}, bad
	}
	b = b[w:]
	for range nd {
		d, w := binary.Uvarint(b)
		if w <= 0 {
			return Embedding{}, bad
		}
		e.Shape, b = append(e.Shape, int(d)), b[w:]
	}
	e.Data = b
	return e, e.Validate()
}

// PutEmbeddings places embeddings on committed passed clips, in one
// transaction: the pickles, the per-chunk Parquet entries and the chunk's
// counters appear together. An embedding of a filtered or unknown clip is
// an error and nothing is written.
func (db *DB) PutEmbeddings(recs []EmbeddingRecord) error {
	if db.readOnly {
		return ErrReadOnly
	}
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("index: embedding %s of clip %s: %w", r.Prefix, r.Clip, err)
		}
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	err := db.update(func(txn *badger.Txn) error {
		for _, r := range recs {
			if err := putEmbedding(txn, r); err != nil {
				return fmt.Errorf("embedding %s of clip %s: %w", r.Prefix, r.Clip, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

func putEmbedding(txn *badger.Txn, r EmbeddingRecord) error {
	var c ClipRecord
	if err := getJSON(txn, clipKey(r.Clip), &c); err != nil {
		return err
	}
	if c.Filtered {
		return errors.New("clip was filtered; only passed clips carry embeddings")
	}
	var ch ChunkRecord
	if err := getJSON(txn, chunkKey(c.Chunk), &ch); err != nil {
		return fmt.Errorf("chunk %s: %w", c.Chunk, err)
	}
	key := embedKey(r.Prefix, r.Clip)
	_, err := txn.Get(key)
	isNew := errors.Is(err, badger.ErrKeyNotFound)
	if err := txn.Set(key, encodeEmbedding(r.Embedding)); err != nil {
		return err
	}
	w := newTreeWrites(c.CuratedAt)
	w.file(EmbedDir(r.Prefix)+"/"+r.Clip.String()+".pickle", KindEmbedPickle, -1, r.Prefix+"/"+r.Clip.String(), true)
	w.file(EmbedParquetDir(r.Prefix)+"/"+ch.ID.String()+".parquet", KindEmbedParquet, -1, r.Prefix+"/"+ch.ID.String(), true)
	if isNew {
		ch.Stats.WithEmbeddings++
		w.owned = append(w.owned, string(key))
		if err := appendManifest(txn, ch.ID, w.owned); err != nil {
			return err
		}
	}
	if !slices.Contains(ch.Embedded, r.Prefix) {
		ch.Embedded = append(ch.Embedded, r.Prefix)
		slices.Sort(ch.Embedded)
	}
	if err := setJSON(txn, chunkKey(ch.ID), ch); err != nil {
		return err
	}
	return writeTree(txn, w)
}

func appendManifest(txn *badger.Txn, chunk uuid.UUID, keys []string) error {
	var raw []byte
	item, err := txn.Get(manifestKey(chunk))
	if err == nil {
		raw, err = item.ValueCopy(nil)
	}
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return err
	}
	old, err := decodeManifest(raw)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, k := range old {
		have[string(k)] = true
	}
	for _, k := range keys {
		if !have[k] {
			old = append(old, []byte(k))
		}
	}
	return txn.Set(manifestKey(chunk), encodeManifest(old))
}
