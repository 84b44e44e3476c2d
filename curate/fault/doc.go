// Package fault tells the two kinds of failure apart: an input's own (a
// video that cannot be decoded: recorded, and not tried again) and the
// machine's (a full disk, a killed tool, an unreachable service: never
// recorded, the work is left unfinished and a re-run finishes it). It also
// holds the free-space guard that stops curation before a write meets
// ENOSPC, and the sizes its flags take.
//
// fault imports no clipfs package: every other curation package may use it.
package fault
