package tree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/clipfs/clipfs/index"
)

// readDirPage is how many entries one index scan fetches for Export.
const readDirPage = 1024

// ExportStats counts what Export wrote.
type ExportStats struct {
	Files int
	Bytes int64
}

// ExportTarget is where ExportTo writes a tree: a local folder (LocalDir)
// or a bucket's prefix (s3store.Folder, given by cmd/clipfs).
type ExportTarget interface {
	// Empty says whether the target holds nothing yet; ExportTo refuses
	// one that holds something.
	Empty(ctx context.Context) (bool, error)
	// Write makes file rel (a slash path below the target) hold the size
	// bytes r holds. r is an io.ReaderAt and io.Seeker too; a blob's local
	// file is an *os.File.
	Write(ctx context.Context, rel string, r io.Reader, size int64) error
	// String names the target in messages (a folder, an s3:// URI).
	String() string
}

// folderMaker is a target with folders of its own, which it makes
// before their files (so that empty ones exist too); an object store has
// none.
type folderMaker interface {
	Mkdir(rel string) error
}

// Export writes the whole tree under dir, which must be empty or absent:
// the same bytes a mount serves (with the same output path), so that
// `diff -r` between them shows nothing. progress, if not nil, is called
// after each file.
func Export(ctx context.Context, t *Tree, dir string, progress func(ExportStats)) (ExportStats, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return ExportStats{}, fmt.Errorf("export: %s is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ExportStats{}, fmt.Errorf("export: %w", err)
	}
	return ExportTo(ctx, t, LocalDir(dir), ExportOptions{Progress: progress})
}

// ExportOptions tune ExportTo.
type ExportOptions struct {
	// Progress, if not nil, is called after each file, never for two at
	// once.
	Progress func(ExportStats)
	// Writes is how many files are written at once (an object store's
	// round trips overlap); 0 or 1 writes one at a time, in order.
	Writes int
}

// ExportTo writes the whole tree into target, which must be empty: every
// file with the bytes a mount serves, folder by folder in name order,
// opts.Writes at a time. It returns nil only once every file was written;
// the first failure stops the writes in flight and is the error.
func ExportTo(ctx context.Context, t *Tree, target ExportTarget, opts ExportOptions) (ExportStats, error) {
	empty, err := target.Empty(ctx)
	if err != nil {
		return ExportStats{}, fmt.Errorf("export: %w", err)
	}
	if !empty {
		return ExportStats{}, fmt.Errorf("export: %s is not empty", target)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	x := exporter{ctx: ctx, cancel: cancel, t: t, to: target, progress: opts.Progress}
	x.dirs, _ = target.(folderMaker)
	if opts.Writes > 1 {
		x.slots = make(chan struct{}, opts.Writes)
	}
	err = x.folder("")
	x.writes.Wait()
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
		err = cause // a write's failure (or the caller's cancel) before what it cut short
	}
	return x.st, err
}

type exporter struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc // with a write's error, which stops the rest
	slots    chan struct{}           // writes in flight; nil: one at a time, in the walk
	writes   sync.WaitGroup
	mu       sync.Mutex // st, progress
	t        *Tree
	to       ExportTarget
	dirs     folderMaker // nil: the target has no folders
	st       ExportStats
	progress func(ExportStats)
}

func (x *exporter) folder(path string) error {
	after := ""
	for {
		page, err := x.t.ReadDir(path, after, readDirPage)
		if err != nil {
			return fmt.Errorf("export: %s: %w", path, err)
		}
		for _, e := range page {
			if err := x.ctx.Err(); err != nil {
				return err
			}
			if err := x.entry(path, e); err != nil {
				return err
			}
		}
		if len(page) < readDirPage {
			return nil
		}
		after = page[len(page)-1].Name
	}
}

func (x *exporter) entry(dir string, e index.Entry) error {
	rel := ChildPath(dir, e.Name)
	if e.IsDir() {
		if x.dirs != nil {
			if err := x.dirs.Mkdir(rel); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		return x.folder(rel)
	}
	if x.slots == nil {
		return x.file(rel, e)
	}
	select {
	case x.slots <- struct{}{}:
	case <-x.ctx.Done():
		return context.Cause(x.ctx)
	}
	x.writes.Go(func() {
		defer func() { <-x.slots }()
		if err := x.file(rel, e); err != nil {
			x.cancel(err)
		}
	})
	return nil
}

// file writes one file entry and counts it.
func (x *exporter) file(rel string, e index.Entry) error {
	var n int64
	var err error
	switch e.Kind {
	case index.KindBlob:
		n, err = x.blob(rel, e)
	case index.KindShard:
		n, err = x.shard(rel, e)
	default:
		var b []byte
		if b, err = x.t.Render(e); err == nil {
			n, err = int64(len(b)), x.to.Write(x.ctx, rel, bytes.NewReader(b), int64(len(b)))
		}
	}
	if err != nil {
		return fmt.Errorf("export: %s: %w", rel, err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.st.Files++
	x.st.Bytes += n
	if x.progress != nil {
		x.progress(x.st)
	}
	return nil
}

func (x *exporter) shard(rel string, e index.Entry) (int64, error) {
	s, err := x.t.OpenShard(e)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return s.Size(), x.to.Write(x.ctx, rel, &shardReader{io.NewSectionReader(s, 0, s.Size()), s}, s.Size())
}

// shardReader reads a shard by ReadAt (as an upload's parts in parallel),
// or streams it whole with WriteTo (as io.Copy into a file does).
type shardReader struct {
	*io.SectionReader
	s *Shard
}

func (r *shardReader) WriteTo(w io.Writer) (int64, error) {
	if pos, _ := r.Seek(0, io.SeekCurrent); pos != 0 {
		return io.Copy(w, r.SectionReader)
	}
	n, err := r.s.WriteTo(w)
	r.Seek(n, io.SeekStart)
	return n, err
}

// blob copies a blob entry: from its local file where the index's store
// keeps or fetches one (copy_file_range into a local folder where the
// filesystems allow), else through the store's reader.
func (x *exporter) blob(rel string, e index.Entry) (int64, error) {
	in, ok, err := x.t.OpenBlobFile(x.ctx, e)
	if err != nil {
		return 0, err
	}
	if ok {
		defer in.Close()
		st, err := in.Stat()
		if err != nil {
			return 0, err
		}
		return st.Size(), x.to.Write(x.ctx, rel, in, st.Size())
	}
	r, err := x.t.OpenBlob(x.ctx, e)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return r.Size(), x.to.Write(x.ctx, rel, io.NewSectionReader(r, 0, r.Size()), r.Size())
}

// LocalDir is a local folder as an export target.
type LocalDir string

func (d LocalDir) String() string { return string(d) }

// Empty says whether the folder is absent or holds nothing.
func (d LocalDir) Empty(context.Context) (bool, error) {
	ents, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	return len(ents) == 0, err
}

// Mkdir makes folder rel and those above it.
func (d LocalDir) Mkdir(rel string) error {
	return os.MkdirAll(filepath.Join(string(d), filepath.FromSlash(rel)), 0o755)
}

// Write writes r to a new file rel (an *os.File is copied with
// copy_file_range where the filesystems allow); a short r is an error.
func (d LocalDir) Write(_ context.Context, rel string, r io.Reader, size int64) error {
	out, err := os.Create(filepath.Join(string(d), filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	n, err := io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("%d bytes written, %d expected", n, size)
	}
	return err
}
