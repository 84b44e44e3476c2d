// Package daemon keeps curating: it takes videos from a watched input folder
// (curate/watch) and from submissions, curates them with a curate.Curator a
// few at a time (or hands them to workers on other machines through the
// Dispatcher it declares, curate/dispatch), publishes shards and
// index.parquet when work runs dry, and reports its state. clipfs serve
// runs it beside a live mount and puts a control API and metrics in front
// of it.
//
// It imports curate, curate/fault, curate/watch, index, and curate/jobs
// for the queue's status type; never FUSE, HTTP, NATS, the worker or the
// dispatcher.
package daemon
