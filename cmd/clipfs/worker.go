package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/vit"
	"github.com/clipfs/clipfs/curate/worker"
)

func runWorker(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("worker", "worker --nats URL [flags]", stderr)
	nf := addNATSFlags(fs, false)
	name := fs.String("name", "", "this worker's name in status and logs (default: HOST-PID)")
	workers := fs.Int("workers", 0, "parallel ffmpeg jobs (default: number of cores)")
	videos := fs.Int("videos", 0, "jobs (videos) in hand at once (default: --workers)")
	device := fs.String("device", vit.DeviceAuto, "where models run: auto, cpu or cuda")
	batch := fs.Int("model-batch", curate.DefaultModelOptions().Batch, "frames per model call, gathered across clips")
	scratch := fs.String("scratch", "", "folder for files being made before they go to the store (default: the system's temporary folder)")
	minFree := fault.MinFreeDefault
	fs.Var(sizeValue{&minFree}, "min-free", "stop taking clips before the scratch folder's filesystem has less than this free (default: 1GiB, or 5% if less); 0: no guard")
	stopGrace := fs.Duration("stop-grace", 10*time.Second, "on SIGTERM, how long the jobs in hand may finish before they go back to the queue")
	verbose := fs.Bool("verbose", false, "log every clip")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if nf.url == "" || len(pos) > 0 {
		return usageError{"worker needs --nats URL (the NATS server clipfs serve uses)"}
	}
	switch *device {
	case vit.DeviceAuto, vit.DeviceCPU, vit.DeviceCUDA:
	default:
		return usageError{fmt.Sprintf("--device %q is not auto, cpu or cuda", *device)}
	}
	if *batch <= 0 {
		return usageError{"--model-batch must be positive"}
	}
	q, err := nf.queueConfig()
	if err != nil {
		return err
	}
	tools, err := media.DefaultTools()
	if err != nil {
		return err
	}
	log := newLogger(stderr, *verbose)
	wname := *name
	if wname == "" {
		host, _ := os.Hostname()
		wname = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	nc, err := nf.connect("clipfs worker "+wname, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	w, err := worker.New(worker.Config{Conn: nc, Queue: q, Name: wname, Videos: *videos, Scratch: *scratch, Tools: tools,
		StopGrace: *stopGrace, Log: log,
		Local: curate.Local{Workers: *workers, Device: *device, Batch: *batch, MinFree: minFree, APIKey: os.Getenv(apiKeyEnv)}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "clipfs: worker %s on %s; stop with SIGTERM or Ctrl-C (jobs in hand finish or go back to the queue)\n", w.Name(), nc.ConnectedUrlRedacted())
	// A second signal exits at once: the jobs in hand are redelivered
	// once their heartbeats stop.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-ctx.Done()
		<-sigs
		<-sigs
		fmt.Fprintln(stderr, "clipfs: second signal: exiting now; the jobs in hand are redelivered")
		os.Exit(exitInterrupted)
	}()
	if err := w.Run(ctx); err != nil {
		return err
	}
	if nc.Drain() == nil {
		for nc.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}
