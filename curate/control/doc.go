// Package control is the control API of clipfs serve: HTTP routes in front
// of a running curation daemon (curate/daemon), bearer-token auth, the
// listener they are served on, and the Client that clipfs status, submit,
// pause, resume and seal use.
//
//	GET  /v1/status   Status (JSON)
//	POST /v1/submit   SubmitRequest -> SubmitReply
//	POST /v1/pause    stop taking videos (those in flight finish) -> {"state": ...}
//	POST /v1/resume   take videos again -> {"state": ...}
//	POST /v1/seal     seal the open shard now -> {"sealed": bool}
//	GET  /metrics     the caller's metrics handler (Options.Metrics)
//
// Server and client live in one package because they share one wire format
// (wire.go): the routes and the JSON field names are defined once, and the
// package's tests run the client against the handler.
//
// Invariants:
//   - The API listens on a unix socket created with mode 0600, or on a
//     loopback TCP address; Listen refuses any other address.
//   - With a token set, every route, /metrics included, needs
//     "Authorization: Bearer TOKEN"; it is compared in constant time.
//   - A seal runs to its end even if the client that asked gives up.
//   - The wire format is stable: clients of older builds, scripts and the
//     end-to-end tests in test/ rely on its routes and field names.
//
// It imports curate/daemon for the status it reports, and must not import
// fs, cmd or Prometheus: metrics are the caller's, passed in as an
// http.Handler. Only cmd/clipfs imports this package.
package control
