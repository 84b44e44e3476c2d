package tree

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clipfs/clipfs/index"
)

// readDirPage is how many entries one index scan fetches for Export.
const readDirPage = 1024

// ExportStats counts what Export wrote.
type ExportStats struct {
	Files int
	Bytes int64
}

// Export writes the whole tree under dir, which must be empty or absent:
// the same bytes a mount serves (with the same output path), so that
// `diff -r` between them shows nothing. progress, if not nil, is called
// after each file.
func Export(ctx context.Context, t *Tree, dir string, progress func(ExportStats)) (ExportStats, error) {
	var st ExportStats
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return st, fmt.Errorf("export: %s is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("export: %w", err)
	}
	x := exporter{ctx: ctx, t: t, root: dir, progress: progress}
	err := x.folder("")
	return x.st, err
}

type exporter struct {
	ctx      context.Context
	t        *Tree
	root     string
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
	dst := filepath.Join(x.root, filepath.FromSlash(rel))
	if e.IsDir() {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return x.folder(rel)
	}
	var n int64
	var err error
	switch e.Kind {
	case index.KindBlob:
		n, err = x.blob(e, dst)
	case index.KindShard:
		n, err = x.shard(e, dst)
	default:
		var b []byte
		if b, err = x.t.Render(e); err == nil {
			n, err = int64(len(b)), os.WriteFile(dst, b, 0o644)
		}
	}
	if err != nil {
		return fmt.Errorf("export: %s: %w", rel, err)
	}
	x.st.Files++
	x.st.Bytes += n
	if x.progress != nil {
		x.progress(x.st)
	}
	return nil
}

func (x *exporter) shard(e index.Entry, dst string) (int64, error) {
	s, err := x.t.OpenShard(e)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	n, err := s.WriteTo(out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// blob copies a blob entry: from its local file where the index's store
// keeps or fetches one (copy_file_range where the filesystems allow), else
// through the store's reader.
func (x *exporter) blob(e index.Entry, dst string) (int64, error) {
	in, ok, err := x.t.OpenBlobFile(x.ctx, e)
	if err != nil {
		return 0, err
	}
	if ok {
		defer in.Close()
		return writeFile(dst, in)
	}
	r, err := x.t.OpenBlob(x.ctx, e)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return writeFile(dst, io.NewSectionReader(r, 0, r.Size()))
}

// writeFile writes what src holds to a new file dst.
func writeFile(dst string, src io.Reader) (int64, error) {
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, src) // an *os.File: copy_file_range where the filesystem allows
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}
