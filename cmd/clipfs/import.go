package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/importer"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/s3store"
)

func runImport(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("import", "import --from DIR|s3://BUCKET/PREFIX --db DIR [flags]", stderr)
	var cfg importer.ImportConfig
	var dbDir string
	var verbose bool
	fs.StringVar(&cfg.From, "from", "", "a ClipWriterStage output tree: NeMo Curator's output folder or a clipfs export, on this machine or as objects under s3://BUCKET/PREFIX (server and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws as the AWS SDKs read them)")
	fs.StringVar(&dbDir, "db", "", "database folder (created if missing)")
	store := addStoreFlag(fs)
	fs.StringVar(&cfg.InputPath, "input-path", "", "the folder the source videos were under (NeMo's --input): check that each video's processed_videos file sits at its path below it")
	lim := index.DefaultShardLimits()
	fs.Int64Var(&lim.TargetBytes, "shard-target-bytes", lim.TargetBytes, "seal a WebDataset shard once its members reach this many bytes")
	fs.IntVar(&lim.MaxSamples, "shard-max-samples", lim.MaxSamples, "seal a WebDataset shard once it holds this many samples")
	fs.BoolVar(&verbose, "verbose", false, "log every chunk")
	cfg.MinFree = fault.MinFreeDefault
	fs.Var(sizeValue{&cfg.MinFree}, "min-free", "stop before the database's filesystem has less than this free, e.g. 1GiB, 500MB; 0: no guard (default: 1GiB, or 5% of the filesystem if less)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if cfg.From == "" || dbDir == "" {
		return usageError{"import needs --from DIR (or s3://BUCKET/PREFIX) and --db DIR"}
	}
	if lim.TargetBytes <= 0 || lim.MaxSamples <= 0 {
		return usageError{"--shard-target-bytes and --shard-max-samples must be positive"}
	}
	cfg.Shards = lim
	log := newLogger(stderr, verbose)
	if strings.Contains(cfg.From, "://") {
		if !strings.HasPrefix(cfg.From, "s3://") {
			return usageError{fmt.Sprintf("--from %q: the only URIs are s3://BUCKET/PREFIX", cfg.From)}
		}
		folder, err := s3store.OpenFolder(ctx, cfg.From, s3store.Options{Logger: log})
		if err != nil {
			return environmental(err)
		}
		cfg.From, cfg.Tree = folder.String(), folder.FS(ctx)
	}
	if err := cfg.Check(); err != nil {
		return environmental(err) // before a database is created for a wrong tree
	}
	cfg.Log = log
	db, err := openDB(ctx, dbDir, *store, index.Options{Create: true, Logger: log}, nil)
	if err != nil {
		if fault.Environmental(err) {
			return unfinishedError{err}
		}
		return err
	}
	defer db.close()
	rep, err := importer.Import(ctx, db.DB, cfg)
	if err != nil && rep.Videos == 0 && len(rep.Failed) == 0 {
		return environmental(err) // nothing ran: the tree itself is wrong, or cannot be listed
	}
	if perr := db.publish(context.WithoutCancel(ctx)); perr != nil {
		fmt.Fprintf(stderr, "clipfs: %v; run the import again to publish it\n", perr)
		return unfinishedError{perr}
	}
	fmt.Fprintf(stderr, "clipfs: %d videos: %d imported, %d up to date; %d chunks, %d clips, %d embeddings committed; %d files failed\n",
		rep.Videos, rep.Imported, rep.UpToDate, rep.Chunks, rep.Clips, rep.Embeddings, len(rep.Failed))
	if n := len(rep.Unfinished); n > 0 || errors.Is(err, fault.ErrUnfinished) {
		fmt.Fprintf(stderr, "clipfs: %d videos left unfinished by a fault of the machine; run the import again to finish them\n", n)
		return unfinishedError{err}
	}
	if errors.Is(err, importer.ErrSomeFilesFailed) {
		return partialError{err}
	}
	return err
}
