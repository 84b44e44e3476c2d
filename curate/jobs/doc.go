// Package jobs is the wire between the index owner (clipfs serve) and the
// workers on other machines: the JetStream streams and consumers that carry
// curation jobs and their results, the messages on them (Job, Result,
// Confirm, Heartbeat, VideoState) and the connection to NATS.
//
// One job per video goes to a work-queue stream (file storage, deduplicated
// by message ID: the video and its fingerprint, so that rescans never queue
// one twice). Workers pull it from one durable consumer with explicit acks,
// send InProgress while they work, and send each chunk's ChunkResult to a
// second work-queue stream that the owner alone consumes. The owner commits
// a result once (curate.LocalSink.CommitOnce) and confirms it to the
// worker's inbox; the worker acks the job only after the owner confirmed
// its last result. A job whose worker died is redelivered after AckWait.
//
// It imports curate (for ChunkResult, Outcome and Recipe) and index (for
// VideoRecord), never the daemon, the worker or the dispatcher that use it.
package jobs
