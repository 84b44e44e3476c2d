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
