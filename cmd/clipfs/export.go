package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/s3store"
)

// exportWrites is how many files an export to object storage uploads at
// once: each is a PUT and a HEAD, whose round trips then overlap. A file
// above the part size (a shard) is itself read and sent four parts at a
// time, 16 MiB each.
const exportWrites = 8

func runExport(ctx context.Context, args []string, stderr io.Writer) error {
	flags := newFlags("export", "export --db DIR --out DIR|s3://BUCKET/PREFIX [flags]", stderr)
	dbDir := flags.String("db", "", "database folder written by clipfs curate")
	outDir := flags.String("out", "", "folder to write the tree into (must be empty or absent), or s3://BUCKET/PREFIX to write it as objects PREFIX/<path> (no object may be under PREFIX/ yet; server and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws as the AWS SDKs read them)")
	outPath := flags.String("output-path", "", "output root written into clip_location (default: --out, the s3:// URI itself for a bucket, as NeMo records its output_path)")
	if _, err := parse(flags, args); err != nil {
		return err
	}
	if *dbDir == "" || *outDir == "" {
		return usageError{"export needs --db DIR and --out DIR (or s3://BUCKET/PREFIX)"}
	}
	log := newLogger(stderr, false)
	var target tree.ExportTarget
	out := absOrEmpty(*outPath)
	if strings.Contains(*outDir, "://") {
		if !strings.HasPrefix(*outDir, "s3://") {
			return usageError{fmt.Sprintf("--out %q: the only URIs are s3://BUCKET/PREFIX", *outDir)}
		}
		folder, err := s3store.OpenFolder(ctx, *outDir, s3store.Options{Logger: log})
		if err != nil {
			return environmental(err)
		}
		target = folder
		if out == "" {
			out = folder.String()
		}
	}
	db, err := openDB(ctx, *dbDir, "", index.Options{ReadOnly: true, Logger: log}, nil)
	if err != nil {
		return environmental(err)
	}
	defer db.close()
	t := tree.New(db.DB, out)
	var st tree.ExportStats
	if target != nil {
		st, err = tree.ExportTo(ctx, t, target, tree.ExportOptions{Writes: exportWrites})
	} else {
		if out == "" {
			out = absOrEmpty(*outDir)
			t = tree.New(db.DB, out)
		}
		st, err = tree.Export(ctx, t, *outDir, nil)
		target = tree.LocalDir(absOrEmpty(*outDir))
	}
	if err != nil {
		return environmental(err)
	}
	fmt.Fprintf(stderr, "clipfs: exported %d files (%d bytes) to %s\n", st.Files, st.Bytes, target)
	return nil
}

// environmental is err as a run left unfinished when it is a fault of the
// machine or of a service (a full disk, an object store that stays down):
// running again finishes it.
func environmental(err error) error {
	if fault.Environmental(err) {
		return unfinishedError{err}
	}
	return err
}
