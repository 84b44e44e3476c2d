#!/usr/bin/env bash
# bench/run.sh [ls] [read] [curate]
#
# Benchmarks clipfs against a baseline measured in the same run, and prints
# the medians of RUNS runs of each, their ratio and a verdict per benchmark:
#
#   ls      `ls -l clips` (cold mount, warm mount) and `find clips -printf %s`
#           (cold) over CLIPS clips, vs the same tree of files on tmpfs.
#           Target: <= 2x tmpfs.
#   read    sequential read (dd bs=1M) of READ_CLIPS clips of READ_MIB MiB
#           through a fresh mount, cold (caches dropped) and warm, with FUSE
#           passthrough and with --no-passthrough, vs reading the blob files
#           directly. Target: >= 0.8x direct.
#   curate  `clipfs curate --workers WORKERS` of test/make-samples.sh's
#           videos into a fresh database, vs the same ffmpeg transcodes
#           (bench/ffmpegcmds) run by `xargs -P WORKERS`. Target: <= 1.15x.
#
# With no argument all three run. Needs root (mount, drop_caches), ffmpeg and
# Go. Environment: RUNS (5), BENCH_DIR (/tmp; scratch goes in a fresh folder
# inside, removed at exit), BIN (bin/clipfs, built if missing), CLIPS
# (100000), READ_CLIPS (64), READ_MIB (16), WORKERS (nproc).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/bin/clipfs}
RUNS=${RUNS:-5}
CLIPS=${CLIPS:-100000}
READ_CLIPS=${READ_CLIPS:-64}
READ_MIB=${READ_MIB:-16}
WORKERS=${WORKERS:-$(nproc)}

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

benches=("$@")
[[ ${#benches[@]} -gt 0 ]] || benches=(ls read curate)
for b in "${benches[@]}"; do
	case $b in ls | read | curate) ;; *) die "unknown benchmark '$b' (ls, read, curate)" ;; esac
done
[[ $EUID -eq 0 ]] || die "run as root (FUSE and tmpfs mounts, drop_caches)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
command -v ffmpeg >/dev/null || die "ffmpeg not found"

WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/clipfs-bench.XXXXXX")
MOUNTS=()   # everything this script mounted, unmounted at exit
CHILD=""    # the timed command in flight
MOUNT_PID=""

# kill_tree PID: ends PID and the processes it started, children first.
kill_tree() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
	kill "$1" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	[[ -n $CHILD ]] && kill_tree "$CHILD"
	local m
	for m in "${MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	[[ -n $MOUNT_PID ]] && { kill "$MOUNT_PID" 2>/dev/null; wait "$MOUNT_PID" 2>/dev/null; }
	wait 2>/dev/null
	rm -rf "$WORK"
	[[ $rc -eq 130 || $rc -eq 143 ]] && say "interrupted; unmounted and removed $WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

LOG=$WORK/log
: >"$LOG"
fail() { tail -n 20 "$LOG" >&2; die "$*"; }

# timed CMD...: runs CMD (a program or a function; stdout dropped, stderr to
# LOG) and sets T to the seconds it took. It runs in the background so that
# an interrupt is handled at once.
timed() {
	local s=$EPOCHREALTIME rc=0
	"$@" >/dev/null 2>>"$LOG" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=""
	local e=$EPOCHREALTIME
	[[ $rc -eq 0 ]] || fail "'$*' exited with status $rc"
	T=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f", e - s }')
}

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# mount_clipfs DB MNT [FLAGS...]: serves DB at MNT in the background.
mount_clipfs() {
	local db=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	"$BIN" mount --db "$db" "$@" "$mnt" 2>>"$LOG" &
	MOUNT_PID=$!
	MOUNTS+=("$mnt")
	local i
	for ((i = 0; i < 400; i++)); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$MOUNT_PID" 2>/dev/null || fail "clipfs mount of $db exited"
		sleep 0.025
	done
	fail "clipfs mount of $db did not appear in 10 s"
}

unmount_clipfs() {
	umount "$1"
	wait "$MOUNT_PID" || fail "clipfs mount exited with status $?"
	MOUNT_PID=""
}

# Results: one sample a line in $WORK/res/BENCH.ROW.{clipfs,base}; rows are
# listed in ROWS with their label, unit and target.
mkdir -p "$WORK/res" "$WORK/bin"
ROWS=()
row() { ROWS+=("$1|$2|$3|$4|$5"); } # bench|row|label|unit|target (le:N or ge:N)
sample() { echo "$3" >>"$WORK/res/$1.$2.$4"; } # bench row value clipfs|base

# progress BENCH R: tells this run's figures (clipfs/baseline per row).
progress() {
	local ent b id label unit target line=""
	for ent in "${ROWS[@]}"; do
		IFS='|' read -r b id label unit target <<<"$ent"
		[[ $b == "$1" ]] || continue
		line+="  $id $(tail -n 1 "$WORK/res/$b.$id.clipfs")/$(tail -n 1 "$WORK/res/$b.$id.base")"
	done
	say "$1: run $2/$RUNS (clipfs/baseline):$line"
}

median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

build_helpers() {
	[[ -x $BIN ]] || { say "building $BIN"; go build -o "$BIN" ./cmd/clipfs; }
	go build -o "$WORK/bin/populate" ./bench/populate
	go build -o "$WORK/bin/ffmpegcmds" ./bench/ffmpegcmds
}

# ---- ls: 100,000 clips, listing and stat, vs tmpfs ----
bench_ls() {
	local d=$WORK/ls
	mkdir -p "$d/tmpfs" "$d/mnt"
	mount -t tmpfs -o mode=755 clipfs-bench "$d/tmpfs"
	MOUNTS+=("$d/tmpfs")
	say "ls: populating $CLIPS clips (database and tmpfs tree)"
	"$WORK/bin/populate" -db "$d/db" -n "$CLIPS" -tree "$d/tmpfs" 2>>"$LOG" || fail "populate failed"
	row ls cold "ls -l clips/, cold mount" s le:2
	row ls warm "ls -l clips/, warm mount" s le:2
	row ls find "find clips/ -printf %s, cold" s le:2
	local r
	for ((r = 1; r <= RUNS; r++)); do
		mount_clipfs "$d/db" "$d/mnt"
		drop_caches
		timed ls -l "$d/mnt/clips"; sample ls cold "$T" clipfs
		timed ls -l "$d/mnt/clips"; sample ls warm "$T" clipfs
		unmount_clipfs "$d/mnt"
		mount_clipfs "$d/db" "$d/mnt"
		drop_caches
		timed find "$d/mnt/clips" -type f -printf '%s\n'; sample ls find "$T" clipfs
		unmount_clipfs "$d/mnt"

		drop_caches
		timed ls -l "$d/tmpfs/clips"; sample ls cold "$T" base
		timed ls -l "$d/tmpfs/clips"; sample ls warm "$T" base
		drop_caches
		timed find "$d/tmpfs/clips" -type f -printf '%s\n'; sample ls find "$T" base
		progress ls "$r"
	done
}

# ---- read: clips through the mount vs the blob files ----
read_files() {
	local f
	for f in "$@"; do dd if="$f" of=/dev/null bs=1M status=none; done
}
read_clips() { read_files "$1"/clips/*; }

# daemon_read_mib: MiB the mount process read with read calls (rchar).
daemon_read_mib() {
	awk '$1 == "rchar:" { printf "%.0f", $2 / 1048576 }' "/proc/$MOUNT_PID/io"
}

bench_read() {
	local d=$WORK/read total=$((READ_CLIPS * READ_MIB))
	mkdir -p "$d/mnt"
	say "read: populating $READ_CLIPS clips of $READ_MIB MiB (distinct random blobs)"
	"$WORK/bin/populate" -db "$d/db" -n "$READ_CLIPS" -blobs 0 -size $((READ_MIB << 20)) \
		-list "$d/blobs.txt" 2>>"$LOG" || fail "populate failed"
	local blobs
	mapfile -t blobs <"$d/blobs.txt"
	row read pt_cold "read ${total} MiB, cold, passthrough" MiB/s ge:0.8
	row read pt_warm "read ${total} MiB, warm, passthrough" MiB/s ge:0.8
	row read pr_cold "read ${total} MiB, cold, --no-passthrough" MiB/s ge:0.8
	row read pr_warm "read ${total} MiB, warm, --no-passthrough" MiB/s ge:0.8
	mibs() { awk -v t="$T" -v m="$total" 'BEGIN { printf "%.1f", m / t }'; }
	local r mode cold warm
	: >"$d/daemon"
	for ((r = 1; r <= RUNS; r++)); do
		drop_caches
		timed read_files "${blobs[@]}"; cold=$(mibs)
		timed read_files "${blobs[@]}"; warm=$(mibs)
		for mode in pt pr; do
			sample read "${mode}_cold" "$cold" base
			sample read "${mode}_warm" "$warm" base
			local flags=()
			[[ $mode == pr ]] && flags=(--no-passthrough)
			mount_clipfs "$d/db" "$d/mnt" "${flags[@]}"
			drop_caches
			timed read_clips "$d/mnt"; sample read "${mode}_cold" "$(mibs)" clipfs
			timed read_clips "$d/mnt"; sample read "${mode}_warm" "$(mibs)" clipfs
			echo "$mode $(daemon_read_mib)" >>"$d/daemon"
			unmount_clipfs "$d/mnt"
		done
		progress read "$r"
	done
	local pt pr
	pt=$(awk '$1 == "pt" { print $2 }' "$d/daemon" | sort -g | tail -n 1)
	pr=$(awk '$1 == "pr" { print $2 }' "$d/daemon" | sort -g | tail -n 1)
	NOTES+=("read: the mount process itself read up to ${pt} MiB per mount with passthrough, ${pr} MiB with --no-passthrough, for ${total} MiB read cold then ${total} MiB warm (about 0: the kernel read the blobs itself, passthrough engaged)")
}

# ---- curate: clipfs curate vs its ffmpeg transcodes in a shell pool ----
bench_curate() {
	local d=$WORK/curate
	mkdir -p "$d"
	say "curate: making sample videos"
	bash test/make-samples.sh "$d/videos" >>"$LOG" 2>&1 || fail "make-samples.sh failed"
	local r clips=0 videos
	videos=$(find "$d/videos" -type f | wc -l)
	row curate wall "curate, $videos videos, --workers $WORKERS" s le:1.15
	curate_clipfs() {
		rm -rf "$d/db"
		timed "$BIN" curate --input "$d/videos" --db "$d/db" --workers "$WORKERS"
		sample curate wall "$T" clipfs
	}
	for ((r = 1; r <= RUNS; r++)); do
		# Odd runs time curate first (the first one also makes the
		# baseline's commands), even runs the baseline first.
		if ((r % 2 == 1)); then curate_clipfs; fi
		if [[ $r -eq 1 ]]; then
			"$BIN" export --db "$d/db" --out "$d/export" 2>>"$LOG" || fail "clipfs export failed"
			"$WORK/bin/ffmpegcmds" -export "$d/export" -out "$d/out" >"$d/cmds" 2>>"$LOG" || fail "ffmpegcmds failed"
			clips=$(wc -l <"$d/cmds")
		fi
		rm -rf "$d/out"
		mkdir -p "$d/out"
		timed xargs -a "$d/cmds" -d '\n' -n 1 -P "$WORKERS" sh -c
		sample curate wall "$T" base
		if ((r % 2 == 0)); then curate_clipfs; fi
		progress curate "$r"
	done
	NOTES+=("curate: $clips clips from $videos videos; the baseline runs the same $clips transcodes (with curate's -c:a aac retry where MP4 refuses the copied audio) and no ffprobe, fsync or index commit")
}

# ---- report ----
NOTES=()
header() {
	local cpu mem
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
	echo "clipfs bench  $(date -u +%Y-%m-%dT%H:%MZ)  clipfs $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
	echo "machine: $(nproc) cores ($cpu), $mem RAM, $(uname -sr), $(stat -f -c %T "$WORK") under $WORK"
	echo "runs: $RUNS (medians); load average at start: $LOAD0"
}

report() {
	local bench=$1 ent b id label unit target op lim cl ba ratio paired ok
	local misses=() n=0 what
	for ent in "${ROWS[@]}"; do
		IFS='|' read -r b id label unit target <<<"$ent"
		[[ $b == "$bench" ]] || continue
		cl=$(median "$WORK/res/$b.$id.clipfs")
		ba=$(median "$WORK/res/$b.$id.base")
		ratio=$(awk -v c="$cl" -v b="$ba" 'BEGIN { printf "%.2f", c / b }')
		paired=$(median <(paste "$WORK/res/$b.$id.clipfs" "$WORK/res/$b.$id.base" | awk '{ print $1 / $2 }'))
		paired=$(awk -v p="$paired" 'BEGIN { printf "%.2f", p }')
		op=${target%%:*} lim=${target#*:}
		ok=$(awk -v r="$ratio" -v l="$lim" -v op="$op" 'BEGIN { print ((op == "le" ? r <= l : r >= l) ? "ok" : "MISS") }')
		printf '%-7s %-38s %10s %10s %6s %7s  %-8s %s\n' "$b" "$label" "$(show "$cl" "$unit")" "$(show "$ba" "$unit")" \
			"${ratio}x" "${paired}x" "$([[ $op == le ]] && echo '<=' || echo '>=') ${lim}x" "$ok"
		n=$((n + 1))
		[[ $ok == ok ]] || misses+=("$label ${ratio}x")
	done
	case $bench in
	ls) what="<= 2x tmpfs" ;;
	read) what=">= 0.8x direct blob reads" ;;
	curate) what="<= 1.15x the same ffmpeg commands under xargs -P $WORKERS" ;;
	esac
	if [[ ${#misses[@]} -eq 0 ]]; then
		VERDICTS+=("verdict $bench: meets target ($what) on $n/$n figures")
	else
		local IFS=';'
		VERDICTS+=("verdict $bench: MISSES target ($what) on ${#misses[@]}/$n: ${misses[*]}")
	fi
}

show() {
	case $2 in
	s) awk -v v="$1" 'BEGIN { printf "%.3f s", v }' ;;
	*) awk -v v="$1" -v u="$2" 'BEGIN { printf "%.0f %s", v, u }' ;;
	esac
}

build_helpers
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
start=$EPOCHREALTIME
for b in "${benches[@]}"; do "bench_$b"; done
elapsed=$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.0f", e - s }')

VERDICTS=()
{
	header
	echo
	printf '%-7s %-38s %10s %10s %6s %7s  %-8s %s\n' bench figure clipfs baseline ratio paired target ""
	for b in "${benches[@]}"; do report "$b"; done
	echo
	printf '%s\n' "${VERDICTS[@]}"
	if [[ ${#NOTES[@]} -gt 0 ]]; then printf '%s\n' "${NOTES[@]}"; fi
	echo "ratio: median clipfs / median baseline (judged against the target); paired: median of the per-run ratios"
	echo "baselines: ls = same files on tmpfs; read = dd of the blob files under DB/blobs; curate = bench/ffmpegcmds under xargs -P $WORKERS"
	echo "took ${elapsed} s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
}
