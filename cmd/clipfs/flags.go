package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/clipfs/clipfs/curate/fault"
)

// Flags are the standard library's, which already accept --name, --name=v
// and -name; this file renders them the GNU way (--db DIR) in help and in
// errors, so that one style shows everywhere.

// metavars names the value of a flag in help, where its type alone would
// say too little.
var metavars = map[string]string{
	"db": "DIR", "input": "DIR", "video-dir": "DIR", "out": "DIR", "from": "DIR",
	"mount": "DIR", "input-path": "DIR", "output-path": "PATH",
	"embedding-model": "PATH", "aesthetic-model": "PATH", "transnetv2-model": "PATH", "transnetv2-threshold": "P", "aesthetic-clip-model": "PATH",
	"token-file": "FILE", "listen": "ADDR",
	"captioning-endpoint": "URL", "enhance-captions-endpoint": "URL",
	"caption-model": "NAME", "enhance-caption-model": "NAME", "embedding-algorithm": "NAME",
	"captioning-prompt-text": "TEXT", "enhance-captions-prompt-text": "TEXT",
	"splitting-algorithm": "ALGO", "algorithm": "ALGO", "motion-filter": "MODE", "device": "DEVICE", "min-free": "SIZE",
	"aesthetic-reduction": "HOW", "store": "URI", "cache-dir": "DIR", "cache-size": "SIZE",
	"nats": "URL", "nats-listen": "HOST:PORT", "nats-user": "USER", "nats-ca": "FILE",
	"nats-tls-cert": "FILE", "nats-tls-key": "FILE", "queue": "NAME", "name": "NAME", "scratch": "DIR",
}

// metavar is the placeholder shown after --name in help ("" for a switch).
func metavar(f *flag.Flag) string {
	if isBool(f) {
		return ""
	}
	if m, ok := metavars[f.Name]; ok {
		return m
	}
	switch typeName(f) {
	case "durationValue":
		return "DURATION"
	case "intValue", "int64Value", "uintValue", "uint64Value":
		return "N"
	case "float64Value":
		if strings.HasSuffix(f.Name, "-s") || strings.HasSuffix(f.Name, "-duration") || strings.HasSuffix(f.Name, "-stride") {
			return "SECONDS"
		}
		return "X"
	}
	return "VALUE"
}

func typeName(f *flag.Flag) string {
	t := reflect.TypeOf(f.Value)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// defaultText is the "(default ...)" note of f, or "" when its default is
// the zero value of its type or the usage text already says it.
func defaultText(f *flag.Flag) string {
	switch f.DefValue {
	case "", "0", "false", "0s", "NaN":
		return ""
	}
	if strings.Contains(f.Usage, "(default") {
		return ""
	}
	v := f.DefValue
	if len(v) > 40 || strings.ContainsAny(v, "\n") {
		return " (default: a built-in text; see docs/usage.md)"
	}
	if typeName(f) == "stringValue" {
		v = fmt.Sprintf("%q", v)
	}
	return " (default " + v + ")"
}

// printHelp writes a command's help: its synopsis, then its flags in
// alphabetical order, GNU style.
func printHelp(w io.Writer, synopsis string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: clipfs %s\n\nflags:\n", synopsis)
	type row struct{ left, right string }
	var rows []row
	fs.VisitAll(func(f *flag.Flag) {
		left := "--" + f.Name
		if m := metavar(f); m != "" {
			left += " " + m
		}
		rows = append(rows, row{left, f.Usage + defaultText(f)})
	})
	rows = append(rows, row{"-h, --help", "show this help and exit"})
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].left < rows[j].left })
	width := 0
	for _, r := range rows {
		width = max(width, len(r.left))
	}
	width = min(width, 30)
	for _, r := range rows {
		lines := wrap(r.right, 78-width-4)
		if len(r.left) > width {
			fmt.Fprintf(w, "  %s\n", r.left)
		} else {
			fmt.Fprintf(w, "  %-*s  %s\n", width, r.left, lines[0])
			lines = lines[1:]
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %-*s  %s\n", width, "", l)
		}
	}
}

// wrap breaks s into lines of at most n characters, at spaces.
func wrap(s string, n int) []string {
	n = max(n, 30)
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > n {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// newFlags makes a flag set whose -h/--help prints GNU-style help on
// standard output and whose errors come back from parse as usageError.
func newFlags(name, synopsis string, _ io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error too
	synopses[fs] = synopsis
	return fs
}

// synopses holds each flag set's synopsis line for its help.
var synopses = map[*flag.FlagSet]string{}

// parse parses args, allowing flags after positional arguments ("--" ends
// the flags).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printHelp(os.Stdout, synopses[fs], fs)
			return nil, err
		}
		if err != nil {
			return nil, usageError{gnuFlagError(err)}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		if n := len(args) - fs.NArg(); n > 0 && args[n-1] == "--" {
			return append(pos, fs.Args()...), nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// gnuFlagError rewrites the flag package's error texts, which name flags
// with one dash, in the style of the help.
func gnuFlagError(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return "unknown flag --" + strings.TrimLeft(name, "-")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		name = strings.TrimLeft(name, "-")
		return fmt.Sprintf("--%s needs a value", name)
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "x" for flag -name: reason
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			value := rest[:i]
			name, reason, _ := strings.Cut(rest[i+len(" for flag -"):], ": ")
			return fmt.Sprintf("--%s: invalid value %s: %s", name, value, shortReason(reason))
		}
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if i := strings.Index(rest, " for -"); i >= 0 {
			name, _, _ := strings.Cut(rest[i+len(" for -"):], ":")
			return fmt.Sprintf("--%s: invalid value %s: want true or false", name, rest[:i])
		}
	}
	return msg
}

// shortReason turns strconv's "parse error" into something a person reads.
func shortReason(r string) string {
	switch r {
	case "parse error":
		return "not a number"
	case "value out of range":
		return "out of range"
	}
	return r
}

// sizeValue is a flag of a size in bytes ("1GiB", "500MB", "0").
type sizeValue struct{ p *int64 }

func (v sizeValue) String() string {
	if v.p == nil || *v.p < 0 {
		return ""
	}
	return strconv.FormatInt(*v.p, 10)
}

func (v sizeValue) Set(s string) error {
	n, err := fault.ParseSize(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

// flagSet reports whether flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
