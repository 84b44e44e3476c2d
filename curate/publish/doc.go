// Package publish makes what readers see beyond the committed chunks: the
// WebDataset sample of each passed clip (handed to the index with its
// chunk), sealed shards' md5 sums, and index.parquet at the root of the
// tree, rewritten after commits. Both curation and import use it.
//
// publish imports index, pack and clipwriter, never curate, fs or cmd.
package publish
