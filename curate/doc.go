// Package curate is the curation pipeline: it finds the videos of an input
// folder, splits each into clips (curate/plan), transcodes, scores, embeds,
// previews and captions every clip (curate/media and the model packages),
// and commits the result one chunk at a time through a Sink. It is NeMo
// Curator's video pipeline for one machine, with the same outputs.
//
// Videos come from a folder (Discover) or from object storage through the
// Bucket this package declares (source.go: DiscoverBucket; cmd/clipfs
// passes an s3store.Folder): ffmpeg reads an object through a URL
// presigned for each tool run, and source_video is its s3:// URI.
//
// One runner (pipeline.go: a video, its chunks, the ffmpeg slots) curates
// videos concurrently, and each of its stages lives in a file of its own:
// split.go (spans of a video), clip.go (one clip: transcode, probe, then
// the stages below, then staging), motion.go, embed.go (embeddings and
// aesthetic scores, batched by queue.go's ModelQueue), previews.go,
// captions.go, and commit.go (a chunk's ChunkResult). config.go holds a
// run's settings, their checks and the fingerprint they add; models.go
// loads the models they name; Run (curate.go) and Curator (curator.go) are
// the two ways in; progress.go and observe.go report.
//
// Curating a chunk produces a ChunkResult (result.go): the records and the
// media files it staged, with their sizes and digests. Committing that
// result through the Sink (sink.go) is the only way curation writes; the
// LocalSink adopts the files into the index and commits the records in one
// transaction, and the up-to-date and resume checks read through the same
// interface. A curation step that fails because of its input is recorded
// as NeMo records it; a fault of the machine (curate/fault) aborts the
// chunk, which is then never committed.
//
// curate does not import fs/tree, fs/mount or cmd: the served tree is built
// from the index alone. Publishing index.parquet and shards is
// curate/publish; importing an existing tree is curate/importer.
package curate
