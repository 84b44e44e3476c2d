// Command clipfs curates raw video into training clips and serves them as
// the read-only tree NeMo Curator's ClipWriterStage writes.
//
//	clipfs curate --input DIR --db DIR [flags]   curate videos into a database
//	clipfs curate --input s3://BUCKET/PREFIX/ --db DIR   ... a bucket's videos, read in place
//	clipfs mount  --db DIR MOUNTPOINT [flags]    serve a database over FUSE
//	clipfs export --db DIR --out DIR [flags]     write the same tree to disk
//	clipfs import --from DIR --db DIR [flags]    ingest a ClipWriterStage tree
//	clipfs serve  --input DIR --db DIR --mount MNT   curate and serve, following the input
//	clipfs status|submit|pause|resume|seal --db DIR   control a running serve
//
// Exit status: 0 success, 1 failure, 2 bad usage, 3 some inputs failed (the
// rest was curated), 4 a fault of the machine left work unfinished (run
// again), 130 interrupted.
package main
