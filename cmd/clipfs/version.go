package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at build time (make build: -ldflags "-X main.version=...");
// a plain go build falls back to the commit Go stamps into the binary.
var version = ""

// versionString is clipfs's version: the stamped one, else the VCS
// revision from the build info, else "dev".
func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

// printVersion writes clipfs's, Go's and ffmpeg's versions, one a line.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "clipfs %s\n", versionString())
	fmt.Fprintf(w, "go %s %s/%s\n", strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "ffmpeg %s\n", toolVersion("ffmpeg"))
	fmt.Fprintf(w, "ffprobe %s\n", toolVersion("ffprobe"))
}

// toolVersion is the version an ffmpeg tool reports on its first line
// ("ffmpeg version 5.1.6-0+deb12u1 Copyright ..."), or why there is none.
func toolVersion(tool string) string {
	path, err := exec.LookPath(tool)
	if err != nil {
		return "not found on PATH (apt-get install ffmpeg)"
	}
	out, err := exec.Command(path, "-version").Output()
	if err != nil {
		return fmt.Sprintf("%s: -version failed: %v", path, err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	if f := strings.Fields(first); len(f) >= 3 && f[1] == "version" {
		return f[2] + " (" + path + ")"
	}
	return strings.TrimSpace(first)
}
