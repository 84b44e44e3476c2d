package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clipfs/clipfs/curate/control"
	"github.com/clipfs/clipfs/curate/jobs"
)

// clientFlags are the flags every client of clipfs serve takes.
type clientFlags struct {
	db, listen, tokenFile string
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	c := &clientFlags{}
	fs.StringVar(&c.db, "db", "", "database folder of the running clipfs serve (finds its control API)")
	fs.StringVar(&c.listen, "listen", os.Getenv("CLIPFS_LISTEN"), "control API address instead: unix:PATH or host:port (default $CLIPFS_LISTEN)")
	fs.StringVar(&c.tokenFile, "token-file", "", "bearer token file (default $CLIPFS_TOKEN)")
	return c
}

// client finds the API: --listen if given, else the one named in
// DB/serve.json.
func (c *clientFlags) client() (*control.Client, error) {
	token, err := readToken(c.tokenFile)
	if err != nil {
		return nil, err
	}
	listen := c.listen
	if listen == "" {
		if c.db == "" {
			return nil, usageError{"give --db DIR (the database clipfs serve curates into) or --listen ADDR"}
		}
		abs, _ := filepath.Abs(c.db)
		s, ok := runningServe(abs)
		if !ok {
			return nil, fmt.Errorf("no clipfs serve is running on %s (start one with: clipfs serve --input DIR --db %s --mount MOUNTPOINT)", abs, abs)
		}
		listen = s.Listen
	}
	return control.NewClient(listen, token), nil
}

// controlError adds to a refusal for the token how to give one.
func controlError(err error) error {
	if errors.Is(err, control.ErrUnauthorized) {
		return fmt.Errorf("%w (set $CLIPFS_TOKEN or --token-file)", err)
	}
	return err
}

// readToken is the bearer token: the file's first line, else $CLIPFS_TOKEN.
func readToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("CLIPFS_TOKEN"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	t := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	if t == "" {
		return "", fmt.Errorf("--token-file %s is empty", file)
	}
	return t, nil
}

func runStatus(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("status", "status --db DIR [flags]", stderr)
	cf := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print the whole status as JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	s, err := c.Status(ctx)
	if err != nil {
		return controlError(err)
	}
	if *asJSON {
		b, _ := json.MarshalIndent(s, "", "  ")
		fmt.Fprintf(os.Stdout, "%s\n", b)
		return nil
	}
	printStatus(os.Stdout, s)
	return nil
}

func printStatus(w io.Writer, s control.Status) {
	t := s.Totals
	fmt.Fprintf(w, "clipfs serve (pid %d), %s for %s\n", s.PID, s.State, (time.Duration(s.Uptime) * time.Second).String())
	fmt.Fprintf(w, "  input    %s\n  database %s\n  mount    %s\n  control  %s\n", s.Input, s.DB, s.Mount, s.Listen)
	fmt.Fprintf(w, "  videos   %d curated, %d up to date, %d failed; %d queued, %d in flight, %d waiting for a retry, %d still being written\n",
		t.Curated, t.UpToDate, t.Failed, s.Queued, len(s.InFlight), len(s.Waiting), s.Settling)
	if s.DiskFull != "" {
		fmt.Fprintf(w, "  paused   %s; resumes when space returns\n", s.DiskFull)
	}
	fmt.Fprintf(w, "  clips    %d (%.1f s of video, %.1f MB); last minute: %.0f clips/min, %.2f s of video per s\n",
		t.Clips, t.Seconds, float64(t.Bytes)/1e6, s.ClipsPerMinute, s.VideoSecondsPerSecond)
	fmt.Fprintf(w, "  shards   %d sealed since start; %d samples in the open shard\n", t.Sealed, s.OpenShardSamples)
	for _, f := range s.InFlight {
		fmt.Fprintf(w, "  curating %s (%.0f s)\n", f.Path, f.Seconds)
	}
	if len(s.Next) > 0 {
		fmt.Fprintf(w, "  next     %s\n", strings.Join(s.Next, "\n           "))
	}
	for _, wt := range s.Waiting {
		fmt.Fprintf(w, "  waiting  %s: %s (attempt %d; retry at %s)\n", wt.Path, wt.Reason, wt.Attempts, wt.RetryAt.Format(time.TimeOnly))
	}
	for _, e := range s.Errors {
		fmt.Fprintf(w, "  error    %s %s\n", e.Time.Format(time.TimeOnly), e.Error)
	}
	if s.Jobs != nil {
		printJobs(w, s.Jobs)
	}
}

// printJobs prints the queue and the workers of a serve whose workers curate.
func printJobs(w io.Writer, j *jobs.Status) {
	fmt.Fprintf(w, "  queue    %s on %s: %d pending, %d in hand (%d redelivered); %d redeliveries, %d jobs failed on every delivery; results %d committed, %d sent twice and dropped\n",
		j.Queue, j.Server, j.Pending, j.InHand, j.Redelivered, j.Redeliveries, j.FailedAll, j.Committed, j.Dropped)
	if j.Error != "" {
		fmt.Fprintf(w, "  queue    cannot be read: %s\n", j.Error)
	}
	if j.Finished > 0 {
		fmt.Fprintf(w, "  jobs     %d finished; the last took %.2f s from publish to done, %.3f s of it not curating (mean %.3f s)\n",
			j.Finished, j.LastLatency, j.LastOverhead, j.MeanOverhead)
	}
	if len(j.Workers) == 0 {
		fmt.Fprintf(w, "  workers  none heard from (start one: clipfs worker --nats URL)\n")
	}
	for _, wk := range j.Workers {
		state := fmt.Sprintf("last heartbeat %.0f s ago", wk.Silent)
		if wk.Lost {
			state = "LOST, " + state
		} else if wk.Stopping {
			state = "stopping, " + state
		}
		job := "idle"
		if len(wk.Jobs) > 0 {
			job = strings.Join(wk.Jobs, ", ")
		}
		fmt.Fprintf(w, "  worker   %s on %s (pid %d, device %s, %d slots): %s; %d jobs, %d clips, %.1f clips/min; %s\n",
			wk.Name, wk.Host, wk.PID, wk.Device, wk.Workers, job, wk.Finished, wk.Clips, wk.ClipsPerMinute, state)
	}
	for _, f := range j.Failed {
		fmt.Fprintf(w, "  failed   %s %s: %s\n", f.Time.Format(time.TimeOnly), f.Source, f.Reason)
	}
}

func runSubmit(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("submit", "submit --db DIR PATH... [flags]", stderr)
	cf := addClientFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"submit needs at least one PATH (a video or a folder under the daemon's input folder)"}
	}
	for i, p := range pos {
		if abs, err := filepath.Abs(p); err == nil {
			pos[i] = abs // the daemon resolves paths from its own folder
		}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	rep, err := c.Submit(ctx, pos)
	if err != nil {
		return controlError(err)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(stderr, "clipfs: %s\n", e)
	}
	fmt.Fprintf(stderr, "clipfs: %d videos queued\n", len(rep.Queued))
	if len(rep.Errors) > 0 {
		if len(rep.Queued) == 0 {
			return fmt.Errorf("nothing queued")
		}
		return partialError{fmt.Errorf("%d paths refused", len(rep.Errors))}
	}
	return nil
}

// runControl makes the one-verb clients: pause, resume, seal.
func runControl(verb, done string) func(context.Context, []string, io.Writer) error {
	return func(ctx context.Context, args []string, stderr io.Writer) error {
		fs := newFlags(verb, verb+" --db DIR [flags]", stderr)
		cf := addClientFlags(fs)
		if _, err := parse(fs, args); err != nil {
			return err
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		sealed := true
		switch verb {
		case "pause":
			_, err = c.Pause(ctx)
		case "resume":
			_, err = c.Resume(ctx)
		case "seal":
			sealed, err = c.Seal(ctx)
		}
		if err != nil {
			return controlError(err)
		}
		if !sealed {
			fmt.Fprintln(stderr, "clipfs: the open shard holds no sample; nothing sealed")
			return nil
		}
		fmt.Fprintf(stderr, "clipfs: %s\n", done)
		return nil
	}
}
