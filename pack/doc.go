// Package pack encodes the byte formats clipfs serves so that they are
// identical to what NeMo Curator's ClipWriterStage writes with CPython and
// numpy (see docs/formats.md §3, §4, §7):
//
//   - JSON exactly as Python's json.dumps(obj, indent=4) writes it
//     (ensure_ascii, float repr, ordered keys, no trailing newline);
//   - numpy arrays as pickle.dump(ndarray) writes them with protocol 4 under
//     numpy 1.x, and as numpy.save writes .npy files (format 1.0);
//   - per-chunk embedding Parquet files (id string, embedding list<double>);
//   - WebDataset shards as plain ustar archives computed from their members
//     and read at any offset without being materialised (tar.go), the wids
//     shard index (wids.go), and the clip table index.parquet, streamed one
//     row group at a time (cliptable.go).
//
// It also reads one format it does not write: PyTorch state_dict files as
// torch.save writes them (a zip of data.pkl and raw storages), through the
// same pickle machine, recognising torch's globals and never executing
// anything (torch.go), for the model weights NeMo Curator downloads.
//
// Invariants:
//
//   - Pure encoding: pack imports only the standard library and parquet-go;
//     it does no I/O of its own (Tar and ClipTableWriter read and write only
//     through the source and writer they are given; ReadTorchStateDict
//     opens the one file it is named), keeps no global state
//     and is safe for concurrent use (a ClipTableWriter by one goroutine).
//   - Deterministic: the same value always gives the same bytes, and every
//     XxxSize function equals len(Xxx(...)) without building the payload, so
//     a filesystem can report exact sizes before producing content (likewise
//     Tar.Size for a shard).
//   - Decoders (Unpickle, ReadEmbeddingParquet, ReadClipTable,
//     ReadTorchStateDict) treat their
//     input as untrusted: malformed or truncated bytes give an error, never a
//     panic or an allocation larger than the input justifies.
//   - Encoders panic only on programming errors (an unsupported Go type given
//     to JSON, an Array whose Data length does not match its shape).
package pack
