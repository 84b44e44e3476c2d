package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/clipfs/clipfs/index"
)

// runCheck is `clipfs check`: a fsck of the database, one line per problem,
// exit 1 when there is any.
func runCheck(ctx context.Context, args []string, stderr io.Writer) error {
	flags := newFlags("check", "check --db DIR [--read-data]", stderr)
	dbDir := flags.String("db", "", "database folder to check")
	readData := flags.Bool("read-data", false, "also read every blob and compare it with the SHA-256 digest recorded when it was adopted")
	pos, err := parse(flags, args)
	if err != nil {
		return err
	}
	if *dbDir == "" {
		return usageError{"check needs --db DIR"}
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("check takes no arguments (got %q)", pos[0])}
	}
	db, err := openDB(ctx, *dbDir, "", index.Options{ReadOnly: true, Logger: newLogger(stderr, false)}, nil)
	if err != nil {
		return err
	}
	defer db.close()
	f, ok := stderr.(*os.File)
	line := &progressLine{w: stderr, terminal: ok && isTerminal(f)}
	opts := index.CheckOptions{ReadData: *readData}
	if line.terminal {
		opts.Progress = line.show
	}
	st, err := db.Check(ctx, opts, func(p index.Problem) {
		line.clear()
		fmt.Fprintf(stderr, "clipfs check: %s\n", p)
	})
	line.clear()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "clipfs check: %s\n", checkSummary(st, *readData))
	if st.Problems > 0 {
		return fmt.Errorf("%s: %s found", db.Dir(), plural(st.Problems, "problem"))
	}
	return nil
}

// checkSummary is the last line: what was checked and how many problems.
func checkSummary(st index.CheckStats, readData bool) string {
	s := fmt.Sprintf("%d records, %d blobs checked, %s", st.Records, st.Blobs, plural(st.Problems, "problem"))
	if readData {
		s += fmt.Sprintf(", %s read", mib(st.BytesRead))
	}
	if st.NoDigest > 0 {
		s += fmt.Sprintf(" (%d blobs have no digest recorded", st.NoDigest)
		if readData {
			s += ", so their content was not verified"
		}
		s += ")"
	}
	return s
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// progressLine is one line on a terminal, redrawn in place; a problem line
// clears it first.
type progressLine struct {
	w        io.Writer
	terminal bool
	drawn    bool
}

func (l *progressLine) show(st index.CheckStats) {
	msg := fmt.Sprintf("clipfs check: %d records", st.Records)
	if st.BlobsTotal > 0 {
		msg += fmt.Sprintf(", %d/%d blobs", st.Blobs, st.BlobsTotal)
	}
	if st.BytesTotal > 0 {
		msg += fmt.Sprintf(", %.1f of %s read", float64(st.BytesRead)/(1<<20), mib(st.BytesTotal))
	}
	if st.Problems > 0 {
		msg += ", " + plural(st.Problems, "problem")
	}
	fmt.Fprintf(l.w, "\r\033[K%s", msg)
	l.drawn = true
}

func (l *progressLine) clear() {
	if l.drawn {
		io.WriteString(l.w, "\r\033[K")
		l.drawn = false
	}
}

// plural is "1 problem", "2 problems".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
