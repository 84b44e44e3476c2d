// Package s3store is an index.BlobStore over an S3-compatible bucket
// (AWS S3, MinIO, SeaweedFS, ...), reached through minio-go, and a
// Folder: a prefix of a bucket as a tree of files, which clipfs export
// writes a ClipWriterStage tree into and import reads one from.
//
// # Layout
//
//	s3://BUCKET/PREFIX/blobs/NAME   blob NAME (Open's store); Content-Type from its extension
//	s3://BUCKET/PREFIX/DIR/NAME     blob NAME of the store Sub(DIR) gives (index/ for the index's backups)
//
//	s3://BUCKET/PREFIX/REL          file REL of OpenFolder's Folder (REL an io/fs path)
//
// PREFIX may be empty (the whole bucket). A store lists only its own
// folder, one level: keys below a further slash are not its blobs.
//
// A Folder (OpenFolder) is a read-only view of every object below
// s3://BUCKET/PREFIX/, at any depth: Walk lists, Stat HEADs (its time
// agrees with the listing's, to the second) and Presign makes a GET URL
// for a tool to read with ranges (curate --input s3://). A presigned URL
// is a secret and appears in no error or log line.
//
// # Configuration
//
// As the AWS SDKs: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (http:// is
// allowed; every endpoint but AWS's is addressed path-style), AWS_REGION
// (default us-east-1), then credentials from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else from the profile
// (AWS_PROFILE, default "default") of ~/.aws/credentials and ~/.aws/config
// (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE). Options override each.
// Open checks them with one listing, so a wrong key, a missing bucket or a
// server that is down fails there in one line.
//
// # Invariants
//
//   - Put makes the object whole or not at all: one PUT up to the part
//     size, else a multipart upload that is aborted on error and that
//     S3 never shows as an object until completed. Put returns only after
//     a HEAD shows the file's size, and only then removes the local file.
//     A process killed mid-Put leaves an upload (parts, never an object),
//     which AbortUploads removes.
//   - ReadAt is one ranged GET of exactly the bytes asked (clipped to the
//     size), checked against Content-Range; a body cut short is resumed by
//     a new GET. It returns the full range, or fewer bytes with an error,
//     never other bytes. A missing object is fs.ErrNotExist; a server that
//     cannot be reached is never that.
//   - Every request has a watchdog (Options.RequestTimeout: no progress for
//     that long cancels it) and is retried with backoff on network errors,
//     timeouts, 5xx, 429 and SlowDown, up to Options.Attempts tries;
//     cancelling the caller's context stops it. An open reader is bounded
//     by its Close, not by Open's context. An error after the last try
//     matches ErrUnavailable.
//   - Errors are one line: the operation, s3://BUCKET/KEY, and the reason
//     in words with S3's code (*Error); a Folder's FS gives *fs.PathError
//     with the same reasons. A reason of a server that stayed unreachable,
//     timed out or answered 5xx/429 says Unavailable() (curate/fault takes
//     it for the environment's fault).
//   - A Folder's FS holds every read of a file to the size and ETag its
//     open saw: a replaced object fails the read, never mixes bytes.
//
// It imports index only; index/s3store/s3test runs the real server its
// tests use.
package s3store
