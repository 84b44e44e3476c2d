package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Blob is an immutable media file inside the database's store.
type Blob struct {
	Name string
	Size int64
	// SHA256 and XXH3 (XXH3-128, big-endian) are the digests of the bytes,
	// taken by AdoptBlob or HashBlobFile; the commit that references the blob
	// records them in its b/ key.
	SHA256 [32]byte
	XXH3   [16]byte
}

// HashBlobFile is the size and digests of the finished file at path, taken
// as AdoptBlob takes them, for a machine that puts the file into the store
// itself (a worker) and has the owner adopt it with AdoptStored. The Name
// is the file's base name.
func HashBlobFile(path string) (Blob, error) {
	f, err := os.Open(path)
	if err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", path, err)
	}
	defer f.Close()
	d, err := hashFile(f)
	if err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", path, err)
	}
	return Blob{Name: filepath.Base(path), Size: d.size, SHA256: d.sum, XXH3: d.fast}, nil
}

// AdoptStored adopts a blob that another machine has already put into the
// database's store (a worker's upload), with the size and digests it took
// (HashBlobFile): the store must hold the blob at that size, or the error
// wraps fs.ErrNotExist (missing) or ErrBlobMismatch (another size). The
// digests are recorded by the commit that names the blob, as AdoptBlob's;
// reads verify the bytes against them.
func (db *DB) AdoptStored(ctx context.Context, b Blob) error {
	if db.readOnly {
		return ErrReadOnly
	}
	if err := checkBlobName(b.Name); err != nil {
		return fmt.Errorf("index: blob %q: %w", b.Name, err)
	}
	r, err := db.blobs.Open(ctx, b.Name)
	if err != nil {
		return fmt.Errorf("index: blob %s: %w", b.Name, err)
	}
	size := r.Size()
	r.Close()
	if size != b.Size {
		return fmt.Errorf("index: blob %s: the store holds %d bytes, the uploader hashed %d: %w", b.Name, size, b.Size, ErrBlobMismatch)
	}
	db.adopted.add(b.Name, blobDigest{size: b.Size, sum: b.SHA256, fast: b.XXH3, hasFast: true})
	return nil
}

// TempPath returns a fresh path in the database's tmp folder, ending in ext
// (".mp4"), for a tool such as ffmpeg to write a future blob into. The file is
// not created. Whatever is left in tmp/ is deleted on the next open.
func (db *DB) TempPath(ext string) string {
	return filepath.Join(db.dir, "tmp", uuid.NewString()+ext)
}

// AdoptBlob makes the finished file at tmpPath (from TempPath) a durable
// blob: it is hashed (SHA-256, while its bytes are in the page cache), then
// put in the database's store under its file name, which moves it there
// durably (BlobStore.Put). The blob is referenced only once a commit names
// it, which records its digest; until then a crash loses it to the orphan
// sweep.
func (db *DB) AdoptBlob(tmpPath string) (Blob, error) {
	if db.readOnly {
		return Blob{}, ErrReadOnly
	}
	f, err := os.Open(tmpPath)
	if err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", tmpPath, err)
	}
	d, err := hashFile(f)
	f.Close()
	if err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", tmpPath, err)
	}
	b := Blob{Name: filepath.Base(tmpPath), Size: d.size, SHA256: d.sum, XXH3: d.fast}
	if err := db.blobs.Put(context.Background(), b.Name, tmpPath); err != nil {
		return Blob{}, fmt.Errorf("index: blob %s: %w", b.Name, err)
	}
	db.adopted.add(b.Name, d)
	return b, nil
}

// DiscardBlob removes an adopted blob that no commit will reference. A
// removal that fails leaves an orphan to the next sweep.
func (db *DB) DiscardBlob(name string) {
	if name == "" || db.readOnly {
		return
	}
	db.adopted.forget(name)
	if err := db.blobs.Remove(context.Background(), name); err != nil {
		db.log.Warn("cannot remove an unreferenced blob; the next writable open will", "blob", name, "err", err)
	}
}

// DiscardUnreferenced removes blob name from the store unless a commit
// names it: for a blob put twice under one name by a result delivered
// twice, the copy of which was committed. It reports whether it removed it.
func (db *DB) DiscardUnreferenced(name string) (bool, error) {
	if name == "" || db.readOnly {
		return false, nil
	}
	referenced := false
	err := db.view(func(txn *badger.Txn) error {
		for _, k := range [][]byte{blobKey(name), shardBlobKey(name)} {
			_, err := txn.Get(k)
			if err == nil {
				referenced = true
				return nil
			}
			if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil || referenced {
		return false, err
	}
	db.DiscardBlob(name)
	return true, nil
}

func blobKey(name string) []byte { return []byte("b/" + name) }

// sweep deletes tmp/ leftovers and the listed blobs no key references:
// what a crash between AdoptBlob and the commit leaves behind. Files a
// FolderStore does not list as blobs (strays) are left for Check to report.
// A store that keeps unfinished uploads (UploadAborter) has all of them
// aborted: the writable open holds the database, and the store holds one
// database's blobs (storeclaim.go), so no other writer's Put is in flight.
func (db *DB) sweep() error {
	tmp := filepath.Join(db.dir, "tmp")
	ents, _ := os.ReadDir(tmp)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(tmp, e.Name()))
	}
	os.MkdirAll(tmp, 0o755)
	ctx := context.Background()
	var orphans []string
	err := db.view(func(txn *badger.Txn) error {
		return db.blobs.List(ctx, func(b BlobInfo) error {
			if b.Name == ownerBlob {
				return nil
			}
			_, gerr := txn.Get(blobKey(b.Name))
			if errors.Is(gerr, badger.ErrKeyNotFound) {
				_, gerr = txn.Get(shardBlobKey(b.Name)) // held by a sealed shard
			}
			if errors.Is(gerr, badger.ErrKeyNotFound) {
				orphans = append(orphans, b.Name)
				return nil
			}
			return gerr
		})
	})
	if err != nil {
		return fmt.Errorf("index: sweep %s: %w", db.dir, err)
	}
	removed := 0
	for _, name := range orphans {
		if err := db.blobs.Remove(ctx, name); err != nil {
			db.log.Warn("cannot remove an unreferenced blob", "blob", name, "err", err)
			continue
		}
		removed++
	}
	if removed > 0 {
		db.log.Info("removed unreferenced blobs", "count", removed, "db", db.dir)
	}
	db.abortUploads(ctx)
	return nil
}

// abortUploads aborts the unfinished uploads a killed writer left in the
// store, where it keeps them; a failure is logged and left to the next
// writable open.
func (db *DB) abortUploads(ctx context.Context) {
	a, ok := db.blobs.(UploadAborter)
	if !ok {
		return
	}
	n, err := a.AbortUploads(ctx, 0)
	if err != nil {
		db.log.Warn("cannot abort unfinished uploads; the next writable open will", "db", db.dir, "err", err)
	}
	if n > 0 {
		db.log.Info("aborted unfinished uploads", "count", n, "db", db.dir)
	}
}

// isBlobRef reports whether a manifest key is a blob reference, and which.
func isBlobRef(key string) (string, bool) {
	return strings.CutPrefix(key, "b/")
}
