package control

import "github.com/clipfs/clipfs/curate/daemon"

// The routes of the API.
const (
	routeStatus  = "/v1/status"
	routeSubmit  = "/v1/submit"
	routePause   = "/v1/pause"
	routeResume  = "/v1/resume"
	routeSeal    = "/v1/seal"
	routeMetrics = "/metrics"
)

// Status is GET /v1/status: the daemon's status and where it serves.
type Status struct {
	daemon.Status
	Where
}

// Where says where a clipfs serve runs: its database, its mount, its
// control API address and its process.
type Where struct {
	DB     string `json:"db"`
	Mount  string `json:"mount"`
	Listen string `json:"listen"`
	PID    int    `json:"pid"`
}

// SubmitRequest is the body of POST /v1/submit: videos or folders under the
// daemon's input folder, absolute or relative to the daemon's folder.
type SubmitRequest struct {
	Paths []string `json:"paths"`
}

// SubmitReply is the answer to POST /v1/submit: the videos queued, and one
// line per path refused. Neither is ever null.
type SubmitReply struct {
	Queued []string `json:"queued"`
	Errors []string `json:"errors"`
}

// stateReply answers pause and resume.
type stateReply struct {
	State string `json:"state"`
}

// sealReply answers seal.
type sealReply struct {
	Sealed bool `json:"sealed"`
}

// errorReply is the body of every refusal.
type errorReply struct {
	Error string `json:"error"`
}
