package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// servedFile is DB/serve.json: written by clipfs serve while it runs, so
// that clients find its control API and curate and mount can say why the
// database is busy.
const servedFile = "serve.json"

// serving describes a running clipfs serve.
type serving struct {
	PID     int       `json:"pid"`
	Listen  string    `json:"listen"`
	Input   string    `json:"input"`
	Mount   string    `json:"mount"`
	Started time.Time `json:"started"`
}

func writeServing(db string, s serving) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := filepath.Join(db, servedFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(db, servedFile))
}

func removeServing(db string) { os.Remove(filepath.Join(db, servedFile)) }

// runningServe returns the clipfs serve running on db, if any: serve.json
// names a live process that is a clipfs serve (not a pid reused since a
// kill -9).
func runningServe(db string) (serving, bool) {
	var s serving
	b, err := os.ReadFile(filepath.Join(db, servedFile))
	if err != nil || json.Unmarshal(b, &s) != nil || s.PID <= 0 {
		return s, false
	}
	if s.PID == os.Getpid() || syscall.Kill(s.PID, 0) != nil && !errors.Is(syscall.Kill(s.PID, 0), syscall.EPERM) {
		return s, false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(s.PID) + "/cmdline")
	if err != nil {
		return s, false
	}
	args := strings.Split(string(cmdline), "\x00")
	if len(args) < 2 || !strings.Contains(filepath.Base(args[0]), "clipfs") || args[1] != "serve" {
		return s, false
	}
	return s, true
}

// refuseIfServed fails when clipfs serve holds database db.
func refuseIfServed(db string) error {
	abs, err := filepath.Abs(db)
	if err != nil {
		return nil
	}
	s, ok := runningServe(abs)
	if !ok {
		return nil
	}
	return fmt.Errorf("database %s is being curated by clipfs serve (pid %d, input %s, mounted at %s); "+
		"add videos by copying them into %s or with: clipfs submit --db %s PATH...", abs, s.PID, s.Input, s.Mount, s.Input, abs)
}
