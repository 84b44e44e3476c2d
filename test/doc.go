// Package test holds clipfs's end-to-end tests: they build the real binary,
// make videos with ffmpeg, curate them into a real Badger database, mount
// it with real FUSE, and check the served tree with the readers users have
// (ffprobe, Python's json and pickle with numpy, DuckDB, diff, tar).
//
// They skip only when /dev/fuse or a tool is missing AND the environment
// variable CI is empty; in CI a missing piece fails the run.
package test
