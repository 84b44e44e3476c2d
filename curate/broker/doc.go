// Package broker runs the NATS server with JetStream inside clipfs serve
// (serve --nats-listen), so that a single machine, or a few, need nothing
// else: its store lives in the database folder and survives restarts. A
// team with a NATS cluster points serve and the workers at it (--nats)
// instead, and this package is not used.
//
// It imports only nats-server; nothing of clipfs.
package broker
