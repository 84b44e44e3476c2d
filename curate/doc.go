// Package curate is the curation pipeline: it finds the videos of an input
// folder, splits each into clips (curate/plan), transcodes, scores, embeds,
// previews and captions every clip (curate/media and the model packages),
// and commits the result one chunk at a time through a Sink. It is NeMo
// Curator's video pipeline for one machine, with the same outputs.
//
// One runner (pipeline.go) curates videos concurrently; its stages each
// live in a file of their own: the video and its chunks (pipeline.go), one
// clip (clip.go), embeddings and aesthetics (embed.go), captions
// (captions.go), what a run reports (progress.go, observe.go).
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
