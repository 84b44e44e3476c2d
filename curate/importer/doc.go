// Package importer ingests a tree that NeMo Curator's ClipWriterStage (or
// clipfs export) wrote into the index, so that it can be served, extended
// and packaged like curated clips: it scans the folders, parses every JSON
// file with clipwriter, copies media in as blobs, checks embeddings against
// their Parquet copies, and commits chunk by chunk. A file the format does
// not allow is reported in one line with its path and skipped; a fault of
// the machine leaves the video for a re-run.
//
// importer imports index, pack, clipwriter and curate's helper packages
// (plan, fault, publish), never the pipeline (curate), fs or cmd.
package importer
