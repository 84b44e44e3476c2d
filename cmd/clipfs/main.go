package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/clipfs/clipfs/curate"
)

const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitPartial     = 3
	exitUnfinished  = 4
	exitInterrupted = 130
)

// usageError marks a command line that cannot be run.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// unfinishedError marks a run that a fault of the machine (a full disk, a
// killed tool, an endpoint down) left unfinished: running it again finishes it.
type unfinishedError struct{ err error }

func (e unfinishedError) Error() string { return e.err.Error() }
func (e unfinishedError) Unwrap() error { return e.err }

// partialError marks a run where some inputs failed and the rest succeeded.
type partialError struct{ err error }

func (e partialError) Error() string { return e.err.Error() }
func (e partialError) Unwrap() error { return e.err }

var commands = map[string]func(ctx context.Context, args []string, stderr io.Writer) error{
	"curate": runCurate,
	"mount":  runMount,
	"export": runExport,
	"check":  runCheck,
	"import": runImport,
	"serve":  runServe,
	"status": runStatus,
	"submit": runSubmit,
	"worker": runWorker,
	"scenes": runScenes,
	"pause":  runControl("pause", "paused: videos in flight finish, no new one starts"),
	"resume": runControl("resume", "resumed"),
	"seal":   runControl("seal", "sealed the open shard"),
}

const usage = `usage: clipfs COMMAND [flags]

commands:
  curate --input DIR --db DIR   curate videos (probe, split, transcode, previews) into a database;
                                --input s3://BUCKET/PREFIX/ curates a bucket's videos in place
  mount  --db DIR MOUNTPOINT    serve the database read-only as NeMo Curator's ClipWriterStage tree
  export --db DIR --out DIR     write the same tree to a folder
  check --db DIR [--read-data]  verify records, blobs, shards and tree entries (--read-data: every blob's digest)
  import --from DIR --db DIR    ingest a ClipWriterStage output tree (NeMo Curator's or an export) into a database
  serve --input DIR --db DIR --mount MOUNTPOINT
                                curate, then follow the input folder, while serving the live tree;
                                control API on unix:DB/clipfs.sock with Prometheus /metrics
  status --db DIR               what a running serve is doing (--json for all of it)
  submit --db DIR PATH...       queue videos or folders with a running serve
  pause | resume --db DIR       stop / restart taking new videos
  seal --db DIR                 seal the open WebDataset shard now
  scenes VIDEO...               list each video's scenes and cut frames (PySceneDetect's ContentDetector,
                                or --algorithm transnetv2 as NeMo Curator runs it); --json for scores too
  worker --nats URL             curate jobs that a serve with --nats or --nats-listen hands out,
                                on this machine (CPU or GPU), sending the results back

Run 'clipfs COMMAND --help' for a command's flags, 'clipfs --version' for versions.
Documentation: docs/usage.md in the source tree.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return exitOK
	case "--version", "-version", "version":
		printVersion(os.Stdout)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		what := "command"
		if strings.HasPrefix(args[0], "-") {
			what = "flag"
		}
		fmt.Fprintf(stderr, "clipfs: unknown %s %q; see clipfs --help\n", what, args[0])
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer startProfile(stderr)()
	return exitCode(args[0], cmd(ctx, args[1:], stderr), ctx, stderr)
}

// exitCode prints err as one line and maps it to the exit status. A bad
// command line (a usageError, or a setting curate refused: its
// *curate.ConfigError names the flag) also names the help of the command
// it was for.
func exitCode(name string, err error, ctx context.Context, stderr io.Writer) int {
	var ue usageError
	var ce *curate.ConfigError
	var pe partialError
	var fe unfinishedError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "clipfs %s: %s; see clipfs %s --help\n", name, strings.TrimPrefix(ue.msg, name+" "), name)
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "clipfs %s: %s; see clipfs %s --help\n", name, ce.Msg, name)
		return exitUsage
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "clipfs: interrupted; committed chunks are kept, run again to resume")
		return exitInterrupted
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "clipfs: %s\n", fe.err)
		return exitUnfinished
	case errors.As(err, &pe):
		fmt.Fprintf(stderr, "clipfs: %s\n", pe.err)
		return exitPartial
	}
	fmt.Fprintf(stderr, "clipfs: %s\n", err)
	return exitFailure
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
