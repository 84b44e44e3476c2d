// Command s3get reads objects straight from an S3-compatible server with
// minio-go, the baseline of the s3 benchmark in bench/run.sh.
//
//	s3get seq [-range 16777216] s3://BUCKET/PREFIX BLOB...
//	s3get ttfb s3://BUCKET/PREFIX BLOB
//	s3get ready s3://BUCKET/PREFIX
//	s3get ports N
//
// seq reads the blobs (objects PREFIX/blobs/BLOB, where clipfs keeps them)
// one after another with ranged GETs of -range bytes, one in flight, and
// prints MiB/s (one number). ttfb prints the seconds from a GET of the whole
// object to its first byte, on a fresh client (a new connection); the
// object's size is not asked first. ready waits (up to 60 s) until the
// bucket answers a signed request. ports prints N loopback TCP ports that
// were free a moment ago, one a line.
//
// The server and keys come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION; buckets are addressed path-style.
package main
