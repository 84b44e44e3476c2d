#!/usr/bin/env bash
# install.sh [demo|test]: installs what clipfs needs and is missing on a
# Debian 12 machine. `make demo` runs it with "demo" (build and run),
# `make test` and .ci/run with "test" (also what the tests read outputs
# with). It installs only what is missing, says in one line what, and does
# nothing (works offline) when everything is there. As a user other than
# root it installs no packages and, if some are missing, names them and the
# command that installs them; what lands in the user's own folders (npm's
# modules, Go's module cache, the SeaweedFS build in ~/.cache/clipfs) it
# fetches or builds for any user.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-test}
case $profile in demo | test) ;; *)
	echo "install.sh: unknown profile '$profile' (demo or test)" >&2
	exit 2
	;;
esac
say() { echo "install: $*" >&2; }

# Go comes from go.dev (Debian 12's is too old), so it is checked, not installed.
want_go=$(sed -n 's/^go \([0-9.]*\).*/\1/p' go.mod)
if ! command -v go >/dev/null; then
	say "Go $want_go or newer is needed and 'go' is not on PATH (see https://go.dev/doc/install)"
	exit 1
fi
have_go=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$want_go" "$have_go" | sort -V | head -1)" != "$want_go" ]; then
	say "Go $want_go or newer is needed, found $have_go"
	exit 1
fi

pkgs=()
need() { pkgs+=("$@"); }
# build and demo: cgo reads motion vectors through libavcodec; ffmpeg and
# ffprobe do the media work.
command -v gcc >/dev/null || need gcc
[ -f /usr/include/stdio.h ] || need libc6-dev
command -v pkg-config >/dev/null || need pkg-config
pkg-config --exists libavformat libavcodec libavutil 2>/dev/null || need libavformat-dev libavcodec-dev libavutil-dev
{ command -v ffmpeg && command -v ffprobe; } >/dev/null || need ffmpeg
# root mounts with mount(2); every other user through fusermount3
if [ "$profile" = demo ] && [ "$(id -u)" -ne 0 ]; then
	command -v fusermount3 >/dev/null || need fuse3
fi
if [ "$profile" = test ]; then
	# outputs are read back with Debian's Python (json, pickle, numpy; PIL
	# checks CLIP preprocessing) and DuckDB's Node client
	[ -x /usr/bin/python3 ] || need python3
	/usr/bin/python3 -c 'import numpy' 2>/dev/null || need python3-numpy
	/usr/bin/python3 -c 'import PIL' 2>/dev/null || need python3-pil
	# TransNetV2 is checked against a PyTorch reference on random weights
	# (torch writes the .pth files the Go loader reads)
	/usr/bin/python3 -c 'import torch' 2>/dev/null || need python3-torch
	command -v node >/dev/null || need nodejs
	command -v npm >/dev/null || need npm
	# non-root mounts go through fusermount3
	command -v fusermount3 >/dev/null || need fuse3
	# the CUDA path (-tags cuda) compiles against CUDA 11.8's headers, from
	# Debian's non-free component; no GPU is needed to compile it
	{ [ -f /usr/include/cuda.h ] && [ -f /usr/include/cublas_v2.h ]; } || need nvidia-cuda-dev
fi

# debian_uri prints the URI of the machine's own Debian archive, from its
# apt sources (deb822 or one-line format), so no mirror is written here.
debian_uri() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
	done | head -1
	[ -f /etc/apt/sources.list ] &&
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\// && $i !~ /security/) { print $i; exit } }' /etc/apt/sources.list | head -1
	return 0
}

nonfree_enabled() {
	grep -rqsE '^[^#]*non-free([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/
}

if [ ${#pkgs[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		extra=""
		case " ${pkgs[*]} " in *" nvidia-cuda-dev "*) nonfree_enabled || extra=" (nvidia-cuda-dev needs Debian's non-free component in your apt sources)" ;; esac
		say "missing packages: ${pkgs[*]}; install them as root with: apt-get install ${pkgs[*]}$extra"
		exit 1
	fi
	case " ${pkgs[*]} " in *" nvidia-cuda-dev "*)
		if ! nonfree_enabled; then
			uri=$(debian_uri | head -1)
			if [ -z "$uri" ]; then
				say "nvidia-cuda-dev needs Debian's non-free component, and no Debian archive was found in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources"
				exit 1
			fi
			suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
			cat >/etc/apt/sources.list.d/clipfs-non-free.sources <<EOF
Types: deb
URIs: $uri
Suites: $suite
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
			say "enabled Debian's non-free component from $uri for nvidia-cuda-dev (/etc/apt/sources.list.d/clipfs-non-free.sources)"
		fi
		;;
	esac
	say "apt-get install ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		say "apt-get install ${pkgs[*]} failed (its output is above)"
		exit 1
	fi
	rm -f "$log"
fi

if [ "$profile" = test ]; then
	# Machines without udev leave /dev/fuse at 0600; udev's default rule
	# makes it 0666, which non-root mounts (fusermount3) need.
	if [ -c /dev/fuse ] && [ "$(id -u)" -eq 0 ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
		chmod 0666 /dev/fuse
		say "made /dev/fuse mode 0666, as udev's default rule does, for non-root mounts"
	fi
	# fusermount3 -u reads /etc/mtab; a minimal root (debootstrap, a
	# container) may lack the link systemd makes
	if [ "$(id -u)" -eq 0 ] && [ ! -e /etc/mtab ] && [ -e /proc/self/mounts ]; then
		ln -s ../proc/self/mounts /etc/mtab
		say "linked /etc/mtab to /proc/self/mounts (fusermount3 reads it)"
	fi
	if [ ! -f test/tools/duckdb/node_modules/@duckdb/node-api/package.json ]; then
		say "npm install @duckdb/node-api (test/tools/duckdb)"
		(cd test/tools/duckdb && npm install --no-audit --no-fund --loglevel=error >/dev/null)
	fi
fi

if [ "$profile" = test ]; then
	# The S3 tests run a real server, SeaweedFS's `weed mini`, which Debian
	# does not package: it is built from the Go module proxy, in a throwaway
	# module, into a cache outside the repository keyed by its version
	# (about 4 minutes on 2 cores, 230 MB): $CLIPFS_CACHE, else
	# /var/cache/clipfs for root and ${XDG_CACHE_HOME:-~/.cache}/clipfs for
	# others, then seaweedfs-VERSION/weed. index/s3store/s3test looks there
	# (or at $CLIPFS_WEED, which skips this build) and names the same version.
	weed_version=v0.0.0-20261109003541-7506e5f91cd6
	if [ -n "${CLIPFS_CACHE:-}" ]; then
		cache=$CLIPFS_CACHE
	elif [ "$(id -u)" -eq 0 ]; then
		cache=/var/cache/clipfs
	else
		cache=${XDG_CACHE_HOME:-$HOME/.cache}/clipfs
	fi
	weed=$cache/seaweedfs-$weed_version/weed
	if [ -z "${CLIPFS_WEED:-}" ] && [ ! -x "$weed" ]; then
		say "go build SeaweedFS $weed_version into $weed (the S3 tests' server; a few minutes)"
		tmp=$(mktemp -d)
		log=$tmp/build.log
		if ! (cd "$tmp" &&
			export GOWORK=off &&
			go mod init x &&
			go get "github.com/seaweedfs/seaweedfs/weed@$weed_version" &&
			mkdir -p "$(dirname "$weed")" &&
			go build -o "$weed.tmp" github.com/seaweedfs/seaweedfs/weed &&
			mv "$weed.tmp" "$weed") >"$log" 2>&1; then
			cat "$log" >&2
			rm -rf "$tmp" "$weed.tmp"
			say "building SeaweedFS failed (its output is above)"
			exit 1
		fi
		rm -rf "$tmp"
	fi
fi

if ! GOPROXY=off go mod download 2>/dev/null; then
	say "go mod download"
	go mod download
fi
