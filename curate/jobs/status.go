package jobs

import "time"

// Status is what the owner knows of the queue and the workers, for
// clipfs status and the metrics.
type Status struct {
	Queue   string `json:"queue"`  // the jobs stream
	Server  string `json:"server"` // the NATS server (redacted URL)
	Pending int    `json:"pending"`
	InHand  int    `json:"in_hand"` // delivered, not acked
	// Redelivered counts the jobs in hand delivered more than once
	// (JetStream's count); Redeliveries the jobs finished on a delivery
	// after their first, since the owner started.
	Redelivered  int            `json:"redelivered"`
	Redeliveries int            `json:"redeliveries"`
	Workers      []WorkerStatus `json:"workers"`
	// Failed are the jobs that ran out of deliveries, newest last.
	Failed    []FailedJob `json:"failed"`
	FailedAll int         `json:"failed_total"`
	Committed int         `json:"results_committed"`
	Dropped   int         `json:"results_dropped"` // sent twice: committed once
	Error     string      `json:"error,omitempty"` // the queue could not be read
	// Jobs finished since the owner started, and for the last of them and
	// on average: seconds from publish to done, and what of that was not
	// the worker curating (the queue, uploads and commits: the overhead).
	Finished        int     `json:"jobs_finished"`
	LastLatency     float64 `json:"last_job_seconds"`
	LastOverhead    float64 `json:"last_job_overhead_seconds"`
	MeanOverhead    float64 `json:"mean_job_overhead_seconds"`
	overheadSeconds float64
}

// AddJob books a finished job's latency and the worker's part of it.
func (s *Status) AddJob(latency, took float64) {
	s.Finished++
	s.LastLatency, s.LastOverhead = latency, latency-took
	s.overheadSeconds += latency - took
	s.MeanOverhead = s.overheadSeconds / float64(s.Finished)
}

// WorkerStatus is one worker as its heartbeats tell.
type WorkerStatus struct {
	Heartbeat
	// Seconds since its last heartbeat; Lost once it is well past the
	// heartbeat period (dead, or cut off).
	Silent float64 `json:"silent_seconds"`
	Lost   bool    `json:"lost"`
}

// FailedJob is a job that failed on every delivery, or ran out of them.
type FailedJob struct {
	Source string    `json:"source"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}
