// Package s3test runs a real S3 server for tests: SeaweedFS's `weed
// mini`, with authentication on (random keys), one bucket, and every
// port it opens (S3, master, volume, filer, their gRPC ports, the admin's)
// chosen free on 127.0.0.1 so that parallel tests never collide. Start
// waits until the bucket answers a signed request (about 4 s) and
// t.Cleanup stops it; Stop, Kill and Restart (same ports, same data) are
// there for fault tests, and Env gives a child process the AWS_* variables
// that point at it. Server.Proxy puts a Toxiproxy (run in this process)
// in front of the S3 port, for network faults: latency, connections reset
// before a request or cut with a reset partway through a response, limited
// bandwidth. Server.Counter puts a reverse proxy in front of it that
// counts the GETs of each object (bytes, ranges, user agents), for tests
// that show who reads what.
//
// The binary is $CLIPFS_WEED, or seaweedfs-VERSION/weed (Version) in
// $CLIPFS_CACHE, /var/cache/clipfs or ~/.cache/clipfs, where
// `scripts/install.sh test` builds it from the Go module proxy. Without it
// a test fails when $CI is set and is skipped otherwise, saying to run
// that script.
//
// It is not a _test package so that test/ and other packages can start a
// server; it imports no clipfs package. Every wait is bounded, and all
// traffic stays on 127.0.0.1.
package s3test
