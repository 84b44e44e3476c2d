// Package daemon keeps curating: it takes videos from a watched input folder
// (curate/watch) and from submissions, curates them with a curate.Curator a
// few at a time, publishes shards and index.parquet when work runs dry, and
// reports its state. clipfs serve runs it beside a live mount and puts a
// control API and metrics in front of it; this package knows nothing of
// FUSE or HTTP.
package daemon
