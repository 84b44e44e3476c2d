// Command populate fills a clipfs database with synthetic clips through the
// index API, for the benchmarks in bench/run.sh.
//
//	populate -db DIR [-n 100000] [-blobs 4] [-size 1000] [-tree DIR] [-list FILE] [-shard]
//	         [-store s3://BUCKET/PREFIX] [-first-video N] [-stamp FILE]
//
// Clips are committed as curate does, one ChunkCommit of 32 clips at a time
// (video record, chunk record, clip records), with -per-video clips per
// source video. With -blobs K > 0, K tiny blobs are adopted and shared by all
// clips (the index allows several records to name one blob); with -blobs 0
// every clip gets its own blob of -size random bytes.
//
// -tree DIR also writes the tree a mount would show for clips/ into DIR
// (clips/<uuid>.mp4 with the same bytes), the baseline for `ls -l`; -list FILE
// writes the blob file of every clip, one path a line, in the order of the
// clip names (the order of `clips/*`), the baseline for reads.
//
// -shard also adds every clip to the open WebDataset shard as curate does
// (publish.Sample: the mp4 blob and a json snapshot of its metas),
// with limits that never seal it, and seals it at the end: all the clips
// become the one shard wds/shard-000000.tar (-n 64 -blobs 0 -size 16777216
// makes it just over 1 GiB). With -blobs > 0 the shared blobs would sit in
// several samples, which the index does not expect; -shard needs -blobs 0.
//
// -store s3://BUCKET/PREFIX keeps the blobs in object storage, as `clipfs
// curate --store` does (server and keys from AWS_ENDPOINT_URL,
// AWS_ACCESS_KEY_ID, ...), and publishes the index to PREFIX/index/ at the
// end, so that `clipfs mount s3://BUCKET/PREFIX` shows the clips; -list then
// writes blob names (objects PREFIX/blobs/NAME) instead of paths.
// -first-video N numbers the source videos from N, so that a second run on
// the same database adds clips; -stamp FILE writes "COMMIT PUBLISHED CLIP":
// the Unix times just before the last chunk commit and after the publish,
// and the last clip file of that chunk (the replication lag's start).
package main
