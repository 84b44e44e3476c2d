package index

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FolderStore is a BlobStore over a local folder: blob NAME is the file
// DIR/xx/NAME, xx being the name's first two characters ("__" for a
// shorter name). It is the default store, DB/blobs. Put renames its source,
// which must therefore be on the folder's filesystem (DB/tmp is). Its blobs
// are local files (LocalBlobStore).
type FolderStore struct {
	dir string
}

// NewFolderStore is the store over folder dir; nothing is created until
// the first Put.
func NewFolderStore(dir string) *FolderStore { return &FolderStore{dir: dir} }

// Dir is the store's folder.
func (s *FolderStore) Dir() string { return s.dir }

// LocalPath is where blob name lives (or would live); ok is false only
// for a name that cannot be a blob's.
func (s *FolderStore) LocalPath(name string) (string, bool) {
	if checkBlobName(name) != nil {
		return "", false
	}
	return s.path(name), true
}

func (s *FolderStore) path(name string) string {
	if len(name) < 2 {
		return filepath.Join(s.dir, "__", name)
	}
	return filepath.Join(s.dir, name[:2], name)
}

// Put fsyncs src, renames it to the blob's path and fsyncs that folder.
func (s *FolderStore) Put(ctx context.Context, name, src string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkBlobName(name); err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	dst := s.path(name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// Open opens the blob's file.
func (s *FolderStore) Open(ctx context.Context, name string) (BlobReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkBlobName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(name))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s: not a regular file", f.Name())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileBlob{f: f, size: st.Size()}, nil
}

// fileBlob is an open blob file: ReadAt is a pread.
type fileBlob struct {
	f    *os.File
	size int64
}

func (b *fileBlob) ReadAt(p []byte, off int64) (int, error) { return b.f.ReadAt(p, off) }
func (b *fileBlob) Close() error                            { return b.f.Close() }
func (b *fileBlob) Size() int64                             { return b.size }

// Remove deletes the blob's file; a missing one is not an error.
func (s *FolderStore) Remove(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkBlobName(name); err != nil {
		return err
	}
	if err := os.Remove(s.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// List walks the folder. Files that are not blobs (strays: see walk) are
// left out.
func (s *FolderStore) List(ctx context.Context, fn func(BlobInfo) error) error {
	return s.walk(ctx, fn, func(string, string) error { return nil })
}

// walk calls blob with each blob file and stray with each other file under
// the folder, with why it is not a blob: a file not where its name puts
// it, or not a regular file. A missing folder holds no blobs.
func (s *FolderStore) walk(ctx context.Context, blob func(BlobInfo) error, stray func(path, why string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == s.dir {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil || d.IsDir() {
			return err
		}
		if want := s.path(d.Name()); p != want {
			return stray(p, fmt.Sprintf("not a blob: blob %s would be at %s", d.Name(), want))
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return stray(p, fmt.Sprintf("not a regular file (%s)", st.Mode().Type()))
		}
		return blob(BlobInfo{Name: d.Name(), Size: st.Size()})
	})
}

// strayWalker is a store that can name what it holds besides blobs
// (FolderStore): Check reports each stray.
type strayWalker interface {
	walk(ctx context.Context, blob func(BlobInfo) error, stray func(path, why string) error) error
}

func checkBlobName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%q is not a blob name", name)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
