package index

import (
	"bytes"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Video returns the record of source video path.
func (db *DB) Video(source string) (VideoRecord, error) {
	var v VideoRecord
	return v, db.getJSON(videoKey(source), &v, "video "+source)
}

// Chunk returns chunk id.
func (db *DB) Chunk(id uuid.UUID) (ChunkRecord, error) {
	var c ChunkRecord
	return c, db.getJSON(chunkKey(id), &c, "chunk "+id.String())
}

// Clip returns clip id.
func (db *DB) Clip(id uuid.UUID) (ClipRecord, error) {
	var c ClipRecord
	return c, db.getJSON(clipKey(id), &c, "clip "+id.String())
}

// Embedding returns the vector of algorithm prefix for clip.
func (db *DB) Embedding(prefix string, clip uuid.UUID) (Embedding, error) {
	var e Embedding
	err := db.view(func(txn *badger.Txn) error {
		item, err := txn.Get(embedKey(prefix, clip))
		if err != nil {
			return err
		}
		raw, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		e, err = decodeEmbedding(raw)
		return err
	})
	return e, wrapRead(err, "embedding "+prefix+" of clip "+clip.String())
}

func (db *DB) getJSON(key []byte, v any, what string) error {
	return wrapRead(db.view(func(txn *badger.Txn) error { return getJSON(txn, key, v) }), what)
}

func wrapRead(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound), errors.Is(err, ErrNotFound):
		return fmt.Errorf("index: %s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("index: %s: %w", what, err)
}

// Lookup returns the entry name in folder dir ("" is the root).
func (db *DB) Lookup(dir, name string) (Entry, error) {
	var e Entry
	err := db.view(func(txn *badger.Txn) error {
		item, err := txn.Get(entryKey(dir, name))
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) (err error) {
			e, err = decodeEntry(name, b)
			return err
		})
	})
	return e, wrapRead(err, "entry "+dir+"/"+name)
}

// ReadDir returns up to limit entries of folder dir in name order, starting
// after name `after` ("" from the start). Fewer than limit means the end.
func (db *DB) ReadDir(dir, after string, limit int) ([]Entry, error) {
	prefix := dirPrefix(dir)
	var out []Entry
	err := db.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		start := prefix
		if after != "" {
			start = append(entryKey(dir, after), 0)
		}
		for it.Seek(start); it.ValidForPrefix(prefix) && len(out) < limit; it.Next() {
			item := it.Item()
			name := string(bytes.TrimPrefix(item.Key(), prefix))
			err := item.Value(func(b []byte) error {
				e, err := decodeEntry(name, b)
				out = append(out, e)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, wrapRead(err, "folder "+dir)
}

// Videos calls fn for every video record, in source order.
func (db *DB) Videos(fn func(VideoRecord) error) error {
	return scanJSON(db, "v/", fn)
}

// scanJSON calls fn with every JSON record under prefix, in key order,
// inside one read transaction.
func scanJSON[T any](db *DB, prefix string, fn func(T) error) error {
	return db.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefix)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var v T
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &v) }); err != nil {
				return fmt.Errorf("index: %s: corrupt record: %w", it.Item().Key(), err)
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	})
}

// HasRootFile reports whether name is served at the root.
func (db *DB) HasRootFile(name string) bool {
	_, err := db.Lookup("", name)
	return err == nil
}
