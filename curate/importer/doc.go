// Package importer ingests a tree that NeMo Curator's ClipWriterStage (or
// clipfs export) wrote into the index, so that it can be served, extended
// and packaged like curated clips: it scans the folders, parses every JSON
// file with clipwriter, copies media in as blobs, checks embeddings against
// their Parquet copies, and commits chunk by chunk. A file the format does
// not allow is reported in one line with its path and skipped; a fault of
// the machine leaves the video for a re-run.
//
// The tree is read through an io/fs.FS (ImportConfig.Tree): os.DirFS of a
// folder, or a bucket's prefix (s3store.Folder.FS, given by cmd/clipfs),
// its files named in messages by From and their slash path. A read the
// environment fails (curate/fault: a full disk, EIO, a store that stays
// unavailable) leaves its video uncommitted; a listing it fails stops the
// import before any video.
//
// importer imports index, pack, clipwriter and curate's helper packages
// (plan, fault, publish), never the pipeline (curate), fs or cmd.
package importer
