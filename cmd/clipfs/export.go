package main

import (
	"context"
	"fmt"
	"io"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
)

func runExport(ctx context.Context, args []string, stderr io.Writer) error {
	flags := newFlags("export", "export --db DIR --out DIR [flags]", stderr)
	dbDir := flags.String("db", "", "database folder written by clipfs curate")
	outDir := flags.String("out", "", "folder to write the tree into (must be empty or absent)")
	outPath := flags.String("output-path", "", "output root written into clip_location (default: --out)")
	if _, err := parse(flags, args); err != nil {
		return err
	}
	if *dbDir == "" || *outDir == "" {
		return usageError{"export needs --db DIR and --out DIR"}
	}
	db, err := openDB(ctx, *dbDir, "", index.Options{ReadOnly: true, Logger: newLogger(stderr, false)}, nil)
	if err != nil {
		return err
	}
	defer db.close()
	out := absOrEmpty(*outPath)
	if out == "" {
		out = absOrEmpty(*outDir)
	}
	st, err := tree.Export(ctx, tree.New(db.DB, out), *outDir, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "clipfs: exported %d files (%d bytes) to %s\n", st.Files, st.Bytes, absOrEmpty(*outDir))
	return nil
}
