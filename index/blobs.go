package index

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Blob is an immutable media file inside the database.
type Blob struct {
	Name string
	Size int64
	// SHA256 is the digest of the bytes, taken by AdoptBlob; the commit that
	// references the blob records it in its b/ key.
	SHA256 [32]byte
}

// TempPath returns a fresh path in the database's tmp folder, ending in ext
// (".mp4"), for a tool such as ffmpeg to write a future blob into. The file is
// not created. Whatever is left in tmp/ is deleted on the next open.
func (db *DB) TempPath(ext string) string {
	return filepath.Join(db.dir, "tmp", uuid.NewString()+ext)
}

// BlobPath is where blob name lives on disk.
func (db *DB) BlobPath(name string) string {
	if len(name) < 2 {
		return filepath.Join(db.dir, "blobs", "__", name)
	}
	return filepath.Join(db.dir, "blobs", name[:2], name)
}

// AdoptBlob makes the finished file at tmpPath (from TempPath) a durable
// blob: it is hashed (SHA-256, while its bytes are in the page cache) and
// fsynced, renamed into blobs/ and its folder fsynced. The blob is
// referenced only once a commit names it, which records its digest; until
// then a crash loses it to the orphan sweep.
func (db *DB) AdoptBlob(tmpPath string) (Blob, error) {
	if db.readOnly {
		return Blob{}, ErrReadOnly
	}
	f, err := os.Open(tmpPath)
	if err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", tmpPath, err)
	}
	d, err := hashFile(f)
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", tmpPath, err)
	}
	b := Blob{Name: filepath.Base(tmpPath), Size: d.size, SHA256: d.sum}
	dst := db.BlobPath(b.Name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", b.Name, err)
	}
	if err := os.Rename(tmpPath, dst); err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", b.Name, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", b.Name, err)
	}
	db.adopted.add(b.Name, d)
	return b, nil
}

// DiscardBlob removes an adopted blob that no commit will reference.
func (db *DB) DiscardBlob(name string) {
	if name != "" {
		db.adopted.forget(name)
		os.Remove(db.BlobPath(name))
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func blobKey(name string) []byte { return []byte("b/" + name) }

// sweep deletes tmp/ leftovers and blob files no key references: what a
// crash between AdoptBlob and the commit leaves behind.
func (db *DB) sweep() error {
	tmp := filepath.Join(db.dir, "tmp")
	ents, _ := os.ReadDir(tmp)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(tmp, e.Name()))
	}
	os.MkdirAll(tmp, 0o755)
	var orphans []string
	err := db.kv.View(func(txn *badger.Txn) error {
		return filepath.WalkDir(filepath.Join(db.dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			_, gerr := txn.Get(blobKey(d.Name()))
			if errors.Is(gerr, badger.ErrKeyNotFound) {
				_, gerr = txn.Get(shardBlobKey(d.Name())) // held by a sealed shard
			}
			if errors.Is(gerr, badger.ErrKeyNotFound) {
				orphans = append(orphans, p)
				return nil
			}
			return gerr
		})
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("index: sweep %s: %w", db.dir, err)
	}
	for _, p := range orphans {
		os.Remove(p)
	}
	if len(orphans) > 0 {
		db.log.Info("removed unreferenced blobs", "count", len(orphans), "db", db.dir)
	}
	return nil
}

// isBlobRef reports whether a manifest key is a blob reference, and which.
func isBlobRef(key string) (string, bool) {
	return strings.CutPrefix(key, "b/")
}
