// Package worker is clipfs worker: it pulls curation jobs from the owner's
// JetStream queue (curate/jobs), curates each video with the same pipeline
// as clipfs curate (curate.Curator), puts the blobs it makes into the
// owner's blob store and sends each chunk's result back; it acks a job only
// after the owner has confirmed its last result. Models load once per
// worker; a job is heartbeated (InProgress) while it runs, so that only a
// dead worker's job is redelivered.
//
// It imports curate, curate/jobs, curate/fault, curate/media and index
// (with index/s3store for object stores); never the daemon or the owner's
// side (curate/dispatch).
package worker
