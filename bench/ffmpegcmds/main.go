package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clipfs/clipfs/curate/media"
)

type meta struct {
	SpanUUID     string     `json:"span_uuid"`
	SourceVideo  string     `json:"source_video"`
	DurationSpan [2]float64 `json:"duration_span"`
}

func main() {
	export := flag.String("export", "", "folder written by clipfs export")
	out := flag.String("out", "", "folder the commands write clips into")
	ffmpeg := flag.String("ffmpeg", "ffmpeg", "ffmpeg binary named in the commands")
	fallback := flag.Bool("audio-fallback", true, "retry with -c:a aac when the first run fails, as curate does")
	flag.Parse()
	if *export == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: ffmpegcmds -export DIR -out DIR [-ffmpeg BIN] [-audio-fallback=false]")
		os.Exit(2)
	}
	metas, err := readMetas(filepath.Join(*export, "metas", "v0"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ffmpegcmds:", err)
		os.Exit(1)
	}
	outAbs, err := filepath.Abs(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ffmpegcmds:", err)
		os.Exit(1)
	}
	for _, m := range metas {
		args := media.TranscodeArgs(m.SourceVideo, m.DurationSpan[0], m.DurationSpan[1],
			filepath.Join(outAbs, m.SpanUUID+".mp4"))
		line := command(*ffmpeg, args)
		if *fallback {
			line += " || " + command(*ffmpeg, withAudioCodec(args, "aac"))
		}
		fmt.Println(line)
	}
}

func readMetas(dir string) ([]meta, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no clip metadata in %s", dir)
	}
	var metas []meta
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var m meta
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		metas = append(metas, m)
	}
	slices.SortFunc(metas, func(a, b meta) int {
		if c := strings.Compare(a.SourceVideo, b.SourceVideo); c != 0 {
			return c
		}
		switch {
		case a.DurationSpan[0] < b.DurationSpan[0]:
			return -1
		case a.DurationSpan[0] > b.DurationSpan[0]:
			return 1
		}
		return 0
	})
	return metas, nil
}

// withAudioCodec returns args with the value of -c:a replaced by codec.
func withAudioCodec(args []string, codec string) []string {
	out := slices.Clone(args)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "-c:a" {
			out[i+1] = codec
		}
	}
	return out
}

// command is bin and args as one POSIX shell command, every word quoted.
func command(bin string, args []string) string {
	words := []string{quote(bin)}
	for _, a := range args {
		words = append(words, quote(a))
	}
	return strings.Join(words, " ")
}

func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
