#!/usr/bin/env bash
# bench/run.sh [ls] [read] [curate] [stages] [shard] [s3] [scene] [transnet] [motion] [vit] [serve] [workers]
#
# Benchmarks clipfs against a baseline measured in the same run, and prints
# the medians of RUNS runs of each, their ratio and a verdict per benchmark:
#
#   ls      `ls -l clips` (cold mount, warm mount) and `find clips -printf %s`
#           (cold) over CLIPS clips, vs the same tree of files on tmpfs.
#           Targets: cold ls -l <= 1.5x tmpfs; warm ls -l and cold find <= 2x.
#           And the mount process's peak RSS (VmHWM) after a cold ls -l of a
#           folder of LS_RSS_CLIPS clips (a database of its own), target
#           < 200 MiB (LS_RSS_CLIPS=0 skips it).
#   read    sequential read (dd bs=1M) of READ_CLIPS clips of READ_MIB MiB
#           through a fresh mount, cold (caches dropped) and warm, with FUSE
#           passthrough and with --no-passthrough, vs reading the blob files
#           directly. Target: >= 0.8x direct; cold with --no-passthrough
#           (every byte through clipfs, spliced from the blob files) >= 0.7x.
#   curate  `clipfs curate --workers WORKERS` of test/make-samples.sh's
#           videos into a fresh database, vs the same ffmpeg transcodes
#           (bench/ffmpegcmds) run by `xargs -P WORKERS`. Target: <= 1.15x.
#   stages  `clipfs curate` of the same videos with every stage that reads
#           frames on (--motion-filter score-only, --generate-previews,
#           --generate-embeddings, --aesthetic-model; small random models
#           from bench/randmodels, so the figure is decoding, not inference)
#           vs transcoding only (no stage). Reported: what the stages' own
#           decodes cost on top of the transcode, the figure one shared
#           decode per clip is to bring down.
#   shard   wds/shard-000000.tar of SHARD_CLIPS clips of SHARD_MIB MiB
#           (bench/populate -shard; 1 GiB by default), read through the mount:
#           sequential dd bs=1M cold (fresh mount, caches dropped) vs a copy
#           of the shard on local disk read cold, target >= 0.8x; the re-read
#           on the same mount (kernel cache) vs the local copy read warm,
#           target >= 0.4x, and vs a minimal go-fuse file served from memory
#           with clipfs's mount options (bench/fuseceiling), target >= 0.95x;
#           for context (no target) the cold read vs the ceiling and vs its
#           blob files read cold (cat), and a new mount's read with the blobs
#           still cached vs the ceiling (clipfs's own cost without the
#           disk's); random
#           RAND_KIB KiB preads (bench/randread, RAND_READS reads, 1 and
#           RAND_THREADS threads, cold and warm) vs the local copy, IOPS with
#           no target; and the mount process's peak RSS (VmHWM) after a cold
#           dd of a second shard of RSS_CLIPS clips (4 GiB), target < 200 MiB
#           (RSS_CLIPS=0 skips it; skipped too when BENCH_DIR lacks the room).
#   s3      object storage: a shard of S3_CLIPS clips of S3_CLIP_MIB MiB (1 GiB
#           by default) populated straight into a bucket of a SeaweedFS `weed
#           mini` on loopback (bench/populate -store, the index published),
#           read through `clipfs mount s3://` (--poll 1s): sequential dd bs=1M
#           cold (fresh mount, empty --cache-dir, caches dropped) vs ranged
#           GETs of S3_RANGE_MIB MiB of the same blobs from the same server
#           (bench/s3get seq, minio-go, one at a time, cold), target >= 0.8x;
#           the re-read from the cache (a new mount on the same --cache-dir,
#           page cache dropped) vs a local copy of the shard read cold,
#           target >= 0.4x; the first byte of a clip through a fresh mount vs
#           a GET's first byte (bench/s3get ttfb), reported; the replication
#           lag from a chunk commit (bench/populate -store, then publish) to
#           its clip visible in the mount, vs the 1 s --poll, reported; and the
#           mount process's peak RSS (VmHWM) after the cold read, target
#           < 200 MiB. Needs SeaweedFS (scripts/install.sh test builds it, or
#           $CLIPFS_WEED); skipped without it.
#   scene   content scene detection (`clipfs scenes`: PySceneDetect's
#           ContentDetector, same cuts) of a 1 min 1920x1080 30 fps video of
#           four shots, vs PySceneDetect's detect(path, ContentDetector()) on
#           the same video (/usr/bin/python3 with python3-opencv and
#           PySceneDetect's source at $CLIPFS_PYSCENEDETECT, or installed).
#           Target: <= 0.5x.
#   transnet TransNetV2 frames/s on the CPU (Go benchmark BenchmarkScores,
#           1000 frames of that video at 48x27, random weights) vs the
#           PyTorch reference (curate/transnet/testdata/reference.py bench)
#           on the same cores. Target: >= 2x.
#   vit     frames per second of a ViT-B/32 CLIP vision tower (random weights)
#           on the CPU, batch 1 and 8 (Go benchmark BenchmarkViTB32CPU), vs
#           PyTorch on the same CPU (curate/vit/kernels/bench_torch.py, when
#           /usr/bin/python3 has torch); reported, no target. Higher is better.
#   motion  motion score (libavcodec decode with motion vectors, sampling,
#           NeMo's score) of a 20 s 1280x720 30 fps clip, vs decoding the
#           whole clip alone (Go benchmarks BenchmarkMotionDecode /
#           DecodeOnly), in seconds per minute of clip; reported, no target.
#   serve   clipfs serve (the daemon): the latency from a video's last
#           write (cp of a 7 s clip into the watched folder, --settle
#           SERVE_SETTLE) to its processed_videos record and clips being
#           visible in the mount, vs `clipfs curate` of that one video
#           into a fresh database (the work itself), reported; and `ls -l
#           clips/` of SERVE_CLIPS clips while the daemon commits clips of
#           new videos (--workers 1), vs the same ls on the idle mount:
#           warm (listing cached, target <= 2x) and cold (fresh mount,
#           caches dropped, reported).
#   workers curation through the NATS JetStream queue: clipfs serve
#           --nats-listen --local-workers 0 (the index owner, curating
#           nothing itself) and 1 or 2 `clipfs worker --workers 1`
#           processes, from their start to every video of
#           test/make-samples.sh curated (status polled every 0.1 s), vs
#           `clipfs curate --workers 1` and `--workers 2` of the same videos
#           (target <= 1.10x: what the queue, the uploads and the shipped
#           results add); 2 workers vs 1, reported (2 cores: expect
#           little); and a 1 s video submitted to a warm serve with one
#           worker: the owner's publish-to-done seconds vs the worker's own
#           seconds curating it (status's last_job_seconds and the
#           overhead), reported.
#
# With no argument all of them run. Needs root (mount, drop_caches), ffmpeg and
# Go. Environment: RUNS (5), BENCH_DIR (/tmp; scratch goes in a fresh folder
# inside, removed at exit), BIN (bin/clipfs, built if missing), CLIPS
# (100000), READ_CLIPS (64), READ_MIB (16), WORKERS (nproc), SHARD_CLIPS (64),
# SHARD_MIB (16), RSS_CLIPS (256), LS_RSS_CLIPS (1000000), RAND_READS (2000), RAND_KIB (64),
# RAND_THREADS (8), SERVE_CLIPS (20000), SERVE_SETTLE (500ms), S3_CLIPS (64),
# S3_CLIP_MIB (16), S3_RANGE_MIB (16), S3_CACHE (the mount's --cache-size, 4GiB).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN_GIVEN=${BIN:+1}
BIN=${BIN:-$ROOT/bin/clipfs}
RUNS=${RUNS:-5}
CLIPS=${CLIPS:-100000}
READ_CLIPS=${READ_CLIPS:-64}
READ_MIB=${READ_MIB:-16}
WORKERS=${WORKERS:-$(nproc)}
SHARD_CLIPS=${SHARD_CLIPS:-64}
SHARD_MIB=${SHARD_MIB:-16}
RSS_CLIPS=${RSS_CLIPS:-256}
LS_RSS_CLIPS=${LS_RSS_CLIPS:-1000000}
RAND_READS=${RAND_READS:-2000}
RAND_KIB=${RAND_KIB:-64}
RAND_THREADS=${RAND_THREADS:-8}
SERVE_CLIPS=${SERVE_CLIPS:-20000}
SERVE_SETTLE=${SERVE_SETTLE:-500ms}
S3_CLIPS=${S3_CLIPS:-64}
S3_CLIP_MIB=${S3_CLIP_MIB:-16}
S3_RANGE_MIB=${S3_RANGE_MIB:-16}
S3_CACHE=${S3_CACHE:-4GiB}

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

benches=("$@")
[[ ${#benches[@]} -gt 0 ]] || benches=(ls read curate stages shard s3 scene transnet motion vit serve workers)
for b in "${benches[@]}"; do
	case $b in ls | read | curate | stages | shard | s3 | scene | transnet | motion | vit | serve | workers) ;; *) die "unknown benchmark '$b' (ls, read, curate, stages, shard, s3, scene, transnet, motion, vit, serve, workers)" ;; esac
done
[[ $EUID -eq 0 ]] || die "run as root (FUSE and tmpfs mounts, drop_caches)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
for v in SHARD_CLIPS SHARD_MIB RAND_READS RAND_KIB RAND_THREADS S3_CLIPS S3_CLIP_MIB S3_RANGE_MIB; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
[[ $RSS_CLIPS =~ ^[0-9]+$ ]] || die "RSS_CLIPS must be a number (0 skips the RSS figure)"
command -v ffmpeg >/dev/null || die "ffmpeg not found"

WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/clipfs-bench.XXXXXX")
MOUNTS=()   # everything this script mounted, unmounted at exit
CHILD=""    # the timed command in flight
MOUNT_PID=""
WORKER_PIDS=() # clipfs worker processes of the workers benchmark

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
	local p
	for p in "${WORKER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[[ -n $MOUNT_PID ]] && { kill "$MOUNT_PID" 2>/dev/null; wait "$MOUNT_PID" 2>/dev/null; }
	declare -F stop_weed >/dev/null && stop_weed
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
	serve "$mnt" "clipfs mount of $db" "$BIN" mount --db "$db" "$@" "$mnt"
}

# serve MNT WHAT CMD...: runs the FUSE server CMD (which mounts MNT) in the
# background as MOUNT_PID and waits for the mount to appear.
serve() {
	local mnt=$1 what=$2
	shift 2
	mkdir -p "$mnt"
	"$@" 2>>"$LOG" &
	MOUNT_PID=$!
	MOUNTS+=("$mnt")
	local i
	for ((i = 0; i < 400; i++)); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$MOUNT_PID" 2>/dev/null || fail "$what exited"
		sleep 0.025
	done
	fail "$what did not appear in 10 s"
}

unmount_clipfs() {
	umount "$1"
	wait "$MOUNT_PID" || fail "the FUSE server of $1 exited with status $?"
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
		[[ -s $WORK/res/$b.$id.clipfs ]] || continue # a row this run has not reached
		line+="  $id $(tail -n 1 "$WORK/res/$b.$id.clipfs")/$(tail -n 1 "$WORK/res/$b.$id.base")"
	done
	say "$1: run $2/$RUNS (clipfs/baseline):$line"
}

median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

build_helpers() {
	# $BIN is built from this tree every run (never a stale one left by an
	# earlier checkout), unless the caller named one.
	if [[ -z $BIN_GIVEN ]]; then
		go build -o "$BIN" ./cmd/clipfs || fail "building $BIN failed"
	fi
	[[ -x $BIN ]] || fail "no clipfs binary at $BIN"
	go build -o "$WORK/bin/populate" ./bench/populate
	go build -o "$WORK/bin/randmodels" ./bench/randmodels
	go build -o "$WORK/bin/ffmpegcmds" ./bench/ffmpegcmds
	go build -o "$WORK/bin/fuseceiling" ./bench/fuseceiling
	go build -o "$WORK/bin/randread" ./bench/randread
	go build -o "$WORK/bin/s3get" ./bench/s3get
}

# measured CMD...: runs CMD like timed and sets V to the last line it
# printed (a figure the command measured itself).
measured() {
	local rc=0
	"$@" >"$WORK/measured" 2>>"$LOG" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=""
	[[ $rc -eq 0 ]] || fail "'$*' exited with status $rc"
	V=$(tail -n 1 "$WORK/measured")
}

# ---- ls: 100,000 clips, listing and stat, vs tmpfs ----
bench_ls() {
	local d=$WORK/ls
	mkdir -p "$d/tmpfs" "$d/mnt"
	mount -t tmpfs -o mode=755 clipfs-bench "$d/tmpfs"
	MOUNTS+=("$d/tmpfs")
	say "ls: populating $CLIPS clips (database and tmpfs tree)"
	"$WORK/bin/populate" -db "$d/db" -n "$CLIPS" -tree "$d/tmpfs" 2>>"$LOG" || fail "populate failed"
	row ls cold "ls -l clips/, cold mount" s le:1.5
	row ls warm "ls -l clips/, warm mount" s le:2
	row ls find "find clips/ -printf %s, cold" s le:2
	if ((LS_RSS_CLIPS > 0)); then
		row ls rss "peak RSS, ls -l of $LS_RSS_CLIPS clips / limit" MiB lt:1
		say "ls: populating $LS_RSS_CLIPS clips (database only) for the peak RSS figure"
		timed "$WORK/bin/populate" -db "$d/rssdb" -n "$LS_RSS_CLIPS"
		NOTES+=("ls: populating the $LS_RSS_CLIPS-clip database took $(printf '%.0f' "$T") s")
	fi
	ls_rss() {
		mount_clipfs "$d/rssdb" "$d/mnt"
		local idle
		idle=$(vm_hwm_mib "$MOUNT_PID")
		drop_caches
		timed ls -l "$d/mnt/clips"
		local hwm
		hwm=$(vm_hwm_mib "$MOUNT_PID")
		sample ls rss "$hwm" clipfs
		sample ls rss "$RSS_LIMIT" base
		echo "ls_rss_s $T" >>"$d/notes"
		echo "ls_rss_split $(awk '$1 == "RssAnon:" { a = $2 } $1 == "RssFile:" { f = $2 } END { printf "%.0f/%.0f", a / 1024, f / 1024 }' "/proc/$MOUNT_PID/status")" >>"$d/notes"
		echo "ls_rss_bytes_per_clip $(awk -v h="$hwm" -v i="$idle" -v n="$LS_RSS_CLIPS" 'BEGIN { printf "%.0f", (h - i) * 2^20 / n }')" >>"$d/notes"
		unmount_clipfs "$d/mnt"
	}
	: >"$d/notes"
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
		((LS_RSS_CLIPS > 0)) && ls_rss
		progress ls "$r"
	done
	if ((LS_RSS_CLIPS > 0)); then
		NOTES+=("ls: cold ls -l of $LS_RSS_CLIPS clips took $(awk '$1 == "ls_rss_s" { print $2 }' "$d/notes" | sort -g | tr '\n' ' ')s; peak RSS above the idle mount, per clip: $(awk '$1 == "ls_rss_bytes_per_clip" { print $2 }' "$d/notes" | sort -g | tr '\n' ' ')bytes; RSS after it, anonymous/file-backed (Badger's memory-mapped tables): $(awk '$1 == "ls_rss_split" { print $2 }' "$d/notes" | tr '\n' ' ')MiB")
	fi
}

# ---- serve: the daemon's latency, and ls -l while it commits ----
# wait_path PATH: polls (every 5 ms, up to 5 min) until PATH exists.
wait_path() {
	local i
	for ((i = 0; i < 60000; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.005
	done
	return 1
}

# daemon_busy DB: whether the daemon has videos queued or in flight.
daemon_busy() {
	"$BIN" status --db "$1" --json 2>>"$LOG" | awk '/"queued":/ { q = $2 + 0 } /"path":/ { f++ } END { exit !(q > 0 || f > 0) }'
}

bench_serve() {
	local d=$WORK/serve r sample=$WORK/serve/sample.mp4
	mkdir -p "$d/in" "$d/one"
	ffmpeg -v error -f lavfi -i testsrc2=size=640x360:rate=25 -t 7 -c:v libx264 -preset veryfast -pix_fmt yuv420p "$sample" 2>>"$LOG" ||
		fail "making the sample video failed"
	row serve latency "last write -> clips visible" s -
	say "serve: latency, $RUNS videos copied into a watched folder (--settle $SERVE_SETTLE)"
	serve "$d/mnt" "clipfs serve" "$BIN" serve --input "$d/in" --db "$d/db" --mount "$d/mnt" --settle "$SERVE_SETTLE" --listen "unix:$d/sock"
	for ((r = 1; r <= RUNS; r++)); do
		cp "$sample" "$d/in/v$r.mp4"
		local s=$EPOCHREALTIME
		wait_path "$d/mnt/processed_videos/v$r.mp4.json" || fail "v$r.mp4 never appeared in the mount"
		sample serve latency "$(awk -v s="$s" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.4f", e - s }')" clipfs
		[[ -n $(ls "$d/mnt/clips") ]] || fail "processed_videos/v$r.mp4.json visible before its clips"
		rm -rf "$d/one/db" "$d/one/in"
		mkdir -p "$d/one/in"
		cp "$sample" "$d/one/in/v.mp4"
		timed "$BIN" curate --input "$d/one/in" --db "$d/one/db"
		sample serve latency "$T" base
		progress serve "$r"
	done
	kill -TERM "$MOUNT_PID"
	wait "$MOUNT_PID" || fail "clipfs serve exited with status $? on SIGTERM"
	MOUNT_PID=""

	say "serve: ls -l of $SERVE_CLIPS clips, idle and while the daemon curates"
	"$WORK/bin/populate" -db "$d/big" -n "$SERVE_CLIPS" 2>>"$LOG" || fail "populate failed"
	rm -rf "$d/in2"
	mkdir -p "$d/in2"
	row serve lsbusy "ls -l clips/ while curating vs idle warm" s le:2
	row serve lscold "ls -l clips/ while curating vs idle cold" s -
	for ((r = 1; r <= RUNS; r++)); do
		mkdir -p "$d/mnt"
		drop_caches
		serve "$d/mnt" "clipfs serve" "$BIN" serve --input "$d/in2" --db "$d/big" --mount "$d/mnt" --settle 100ms --workers 1 --listen "unix:$d/sock"
		timed ls -l "$d/mnt/clips"; sample serve lscold "$T" base
		timed ls -l "$d/mnt/clips"; sample serve lsbusy "$T" base
		# Busy: videos land one after another while ls runs.
		local i
		for ((i = 0; i < 6; i++)); do cp "$sample" "$d/in2/r${r}_$i.mp4"; done
		for ((i = 0; i < 100; i++)); do daemon_busy "$d/big" && break; sleep 0.05; done
		sleep 1 # let the first commits land
		timed ls -l "$d/mnt/clips"
		daemon_busy "$d/big" || say "serve: warning: curation finished during run $r's busy ls"
		sample serve lsbusy "$T" clipfs
		sample serve lscold "$T" clipfs
		kill -TERM "$MOUNT_PID"
		wait "$MOUNT_PID" || fail "clipfs serve exited with status $? on SIGTERM"
		MOUNT_PID=""
		progress serve "$r"
	done
}

# ---- workers: curation through the JetStream queue vs a local curate ----
# status_field SOCK KEY: the number after "KEY": in the status of the
# serve whose control socket is SOCK (curl: see workers_done).
status_field() {
	curl -sf --unix-socket "$1" http://clipfs/v1/status 2>>"$LOG" | awk -v k="\"$2\":" '$1 == k { v = $2; sub(/,$/, "", v); print v; exit }'
}

# workers_done SOCK N: whether the serve whose control socket is SOCK has
# handled N videos and is idle. It asks with curl, which costs a tenth of
# the CPU time of a clipfs status (polled ten times a second on 2 cores,
# that would be charged to the workers).
workers_done() {
	local js
	js=$(curl -sf --unix-socket "$1" http://clipfs/v1/status 2>>"$LOG") || return 1
	awk -v n="$2" 'match($0, /"(curated|up_to_date|failed)": *[0-9]+/) { v = substr($0, RSTART, RLENGTH); sub(/.*:/, "", v); c += v }
		/"idle": *true/ { idle = 1 } END { exit !(idle && c >= n) }' <<<"$js"
}

# start_workers N URL: starts N clipfs worker processes (--workers 1).
start_workers() {
	local i
	for ((i = 1; i <= $1; i++)); do
		"$BIN" worker --nats "$2" --workers 1 --name "w$i" --scratch "$WORK/workers/scratch$i" ${WORKER_FLAGS:-} 2>>"$LOG" &
		WORKER_PIDS+=($!)
	done
}

stop_workers() {
	local p
	for p in "${WORKER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${WORKER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	WORKER_PIDS=()
}

stop_serve() {
	kill -TERM "$MOUNT_PID"
	wait "$MOUNT_PID" || fail "clipfs serve exited with status $? on SIGTERM"
	MOUNT_PID=""
}

bench_workers() {
	local d=$WORK/workers r n port=127.0.0.1:$((20000 + RANDOM % 20000))
	mkdir -p "$d"
	say "workers: making sample videos"
	bash test/make-samples.sh "$d/videos" >>"$LOG" 2>&1 || fail "make-samples.sh failed"
	ffmpeg -v error -f lavfi -i testsrc2=size=640x360:rate=25 -t 1 -c:v libx264 -preset veryfast -pix_fmt yuv420p "$d/one.mp4" 2>>"$LOG" ||
		fail "making the 1 s video failed"
	local videos
	videos=$(find "$d/videos" -type f | wc -l)
	row workers w1 "1 worker vs curate --workers 1, $videos videos" s le:1.10
	row workers w2 "2 workers vs curate --workers 2" s le:1.10
	row workers scale "2 workers vs 1 worker" s -
	row workers job "1 s video: publish to done vs curating" s -
	# workers_run N: serve and N workers from start to all curated; T.
	workers_run() {
		rm -rf "$d/db" "$d/mnt"
		serve "$d/mnt" "clipfs serve" "$BIN" serve --input "$d/videos" --db "$d/db" --mount "$d/mnt" --watch=false \
			--nats-listen "$port" --local-workers 0 --listen "unix:$d/sock"
		local s=$EPOCHREALTIME i
		start_workers "$1" "nats://$port"
		for ((i = 0; i < 6000; i++)); do
			workers_done "$d/sock" "$videos" && break
			sleep 0.1
		done
		local e=$EPOCHREALTIME
		workers_done "$d/sock" "$videos" || fail "serve with $1 workers did not finish in 10 minutes"
		T=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f", e - s }')
		stop_workers
		stop_serve
	}
	local t1 t2
	for ((r = 1; r <= RUNS; r++)); do
		for n in 1 2; do
			# Alternate which goes first, so that drift favours neither.
			if ((r % 2 == 1)); then workers_run $n; sample workers w$n "$T" clipfs; fi
			[[ $n -eq 1 ]] && t1=$T || t2=$T
			rm -rf "$d/local"
			timed "$BIN" curate --input "$d/videos" --db "$d/local" --workers $n
			sample workers w$n "$T" base
			if ((r % 2 == 0)); then
				workers_run $n
				sample workers w$n "$T" clipfs
				[[ $n -eq 1 ]] && t1=$T || t2=$T
			fi
		done
		sample workers scale "$t2" clipfs
		sample workers scale "$t1" base
		progress workers "$r"
	done

	say "workers: per-job overhead, $RUNS 1 s videos submitted to a warm serve with one worker"
	rm -rf "$d/db" "$d/mnt" "$d/in"
	mkdir -p "$d/in"
	# 1 s clips, so that the 1 s video makes one: its job uploads and commits.
	serve "$d/mnt" "clipfs serve" "$BIN" serve --input "$d/in" --db "$d/db" --mount "$d/mnt" --watch=false \
		--nats-listen "$port" --local-workers 0 --listen "unix:$d/sock" \
		--fixed-stride-split-duration 1 --fixed-stride-min-clip-length-s 0.5
	start_workers 1 "nats://$port"
	local i lat over
	for ((r = 1; r <= RUNS; r++)); do
		cp "$d/one.mp4" "$d/in/one$r.mp4"
		"$BIN" submit --db "$d/db" "$d/in/one$r.mp4" 2>>"$LOG" || fail "clipfs submit failed"
		for ((i = 0; i < 3000; i++)); do
			[[ $(status_field "$d/sock" jobs_finished) -ge $r ]] && break
			sleep 0.02
		done
		lat=$(status_field "$d/sock" last_job_seconds)
		over=$(status_field "$d/sock" last_job_overhead_seconds)
		[[ -n $lat && -n $over ]] || fail "status --json has no job latency"
		sample workers job "$lat" clipfs
		sample workers job "$(awk -v l="$lat" -v o="$over" 'BEGIN { printf "%.4f", l - o }')" base
		progress workers "$r"
	done
	stop_workers
	stop_serve
	NOTES+=("workers: serve --nats-listen --local-workers 0 on a folder database (blobs put by rename), workers on this machine; the timed span starts once serve has mounted and includes the workers' start and connection; job: the owner's publish-to-done (last_job_seconds) vs the worker's own curation of the 1 s video")
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
	row read pr_cold "read ${total} MiB, cold, --no-passthrough" MiB/s ge:0.7
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

# gobench PKG REGEX: runs the Go benchmarks matching REGEX in PKG once each
# (3 iterations) and prints "Name seconds/op" lines.
gobench() {
	go test -run '^$' -bench "$2" -benchtime=3x -count=1 "$1" 2>>"$LOG" |
		awk '/^Benchmark/ { n = $1; sub(/-[0-9]+$/, "", n); for (i = 3; i <= NF; i++) if ($i == "ns/op") print n, $(i - 1) / 1e9 }'
}

# gopair BENCH ROW PKG CLIPFS BASE [SCALE]: one run of two Go benchmarks,
# sampled as clipfs and baseline (seconds per op times SCALE).
gopair() {
	local out
	out=$(gobench "$3" "^(Benchmark$4|Benchmark$5)\$") || fail "go test -bench in $3 failed"
	local c b
	c=$(awk -v n="Benchmark$4" -v k="${6:-1}" '$1 == n { print $2 * k }' <<<"$out")
	b=$(awk -v n="Benchmark$5" -v k="${6:-1}" '$1 == n { print $2 * k }' <<<"$out")
	[[ -n $c && -n $b ]] || fail "benchmarks $4/$5 printed no figures: $out"
	sample "$1" "$2" "$c" clipfs
	sample "$1" "$2" "$b" base
}

# ---- scene: content detection vs PySceneDetect ----
# pyscenedetect_env: PYTHONPATH for PySceneDetect's source ($CLIPFS_PYSCENEDETECT)
# when set; the check for cv2 and scenedetect succeeds when it can run.
have_pyscenedetect() {
	PYTHONPATH=${CLIPFS_PYSCENEDETECT:-} /usr/bin/python3 -c 'import cv2, scenedetect' 2>/dev/null
}

# scene_video: a 1 min 1920x1080 30 fps H.264 video of four shots, made once
# and kept under BENCH_DIR's parent temporary folder between runs.
scene_video() {
	SCENE_VIDEO=${TMPDIR:-/tmp}/clipfs-bench-scene-1080p-60s-v1.mp4
	[[ -s $SCENE_VIDEO ]] && return 0
	say "scene: making a 1 min 1080p video (once)"
	local g="" s i=0
	for s in testsrc2 mandelbrot smptehdbars "life=seed=1:mold=10:ratio=0.1"; do
		local sep="="
		[[ $s == *=* ]] && sep=":"
		g+="$s${sep}size=1920x1080:rate=30,trim=end_frame=450,setpts=PTS-STARTPTS,format=yuv420p[s$i];"
		i=$((i + 1))
	done
	ffmpeg -nostdin -v error -y -filter_complex "${g}[s0][s1][s2][s3]concat=n=4:v=1:a=0[v]" -map "[v]" \
		-c:v libx264 -preset veryfast -crf 23 "$SCENE_VIDEO.part.mp4" 2>>"$LOG" || fail "making the scene video failed"
	mv "$SCENE_VIDEO.part.mp4" "$SCENE_VIDEO"
}

pyscenedetect_run() {
	PYTHONPATH=${CLIPFS_PYSCENEDETECT:-} /usr/bin/python3 -c 'import sys, scenedetect
from scenedetect import detect, ContentDetector
print(len(detect(sys.argv[1], ContentDetector())))' "$1"
}

bench_scene() {
	row scene wall "content scenes, s per min of 1080p" s le:0.50
	scene_video
	have_pyscenedetect || say "scene: no PySceneDetect for /usr/bin/python3 (apt-get install python3-opencv; CLIPFS_PYSCENEDETECT=its source); no baseline"
	local r
	for ((r = 1; r <= RUNS; r++)); do
		timed "$BIN" scenes --json "$SCENE_VIDEO"
		sample scene wall "$T" clipfs
		if have_pyscenedetect; then
			timed pyscenedetect_run "$SCENE_VIDEO"
			sample scene wall "$T" base
		else
			sample scene wall nan base
		fi
		progress scene "$r"
	done
	NOTES+=("scene: both decode every frame at full size (OpenCV's FFmpeg backend and clipfs's ffmpeg, threads as each chooses) and find the same cuts; PySceneDetect $(PYTHONPATH=${CLIPFS_PYSCENEDETECT:-} /usr/bin/python3 -c 'import scenedetect, cv2; print(scenedetect.__version__, "with OpenCV", cv2.__version__)' 2>/dev/null || echo '(absent)'); ffmpeg alone decoding the video to nothing takes $(scene_decode_alone) s")
}

# scene_decode_alone: seconds of ffmpeg decoding the scene video (threads
# as it chooses) and dropping the frames: the floor of both tools.
scene_decode_alone() {
	timed ffmpeg -nostdin -v error -i "$SCENE_VIDEO" -f null -
	echo "$T"
}

# ---- transnet: TransNetV2 on the CPU vs the PyTorch reference ----
bench_transnet() {
	row transnet fps "TransNetV2 CPU, frames/s" fps ge:2.0
	/usr/bin/python3 -c 'import torch' 2>/dev/null || die "transnet: /usr/bin/python3 has no torch (apt-get install python3-torch): the weights and the baseline need it"
	local d=$WORK/transnet r out fps
	mkdir -p "$d"
	/usr/bin/python3 curate/transnet/testdata/reference.py weights --seed 1 --out "$d" >>"$LOG" 2>&1 || fail "reference.py weights failed"
	scene_video
	# The first 1000 frames of the scene video as NeMo extracts them.
	ffmpeg -nostdin -v error -threads 4 -i "$SCENE_VIDEO" -frames:v 1000 -f rawvideo -pix_fmt rgb24 -s 48x27 "$d/frames.rgb" 2>>"$LOG" ||
		fail "extracting frames failed"
	for ((r = 1; r <= RUNS; r++)); do
		out=$(TRANSNET_WEIGHTS=$d/model.pth TRANSNET_BENCH_FRAMES=$d/frames.rgb go test -run '^$' -bench '^BenchmarkScores$' -benchtime=1x -count=1 ./curate/transnet/ 2>>"$LOG") ||
			fail "transnet benchmark failed"
		fps=$(awk '/^BenchmarkScores/ { for (i = 3; i <= NF; i++) if ($i == "frames/s") print $(i - 1) }' <<<"$out")
		[[ -n $fps ]] || fail "transnet benchmark printed no figure: $out"
		sample transnet fps "$fps" clipfs
		fps=$(/usr/bin/python3 curate/transnet/testdata/reference.py bench --weights "$d/model.pth" --frames "$d/frames.rgb" \
			--threads "$(nproc)" --repeat 1 2>>"$LOG" | awk -F'"frames_per_s": ' 'NF > 1 { split($2, a, /[,}]/); print a[1] }')
		[[ -n $fps ]] || fail "reference.py bench printed no figure"
		sample transnet fps "$fps" base
		progress transnet "$r"
	done
	NOTES+=("transnet: frames/s, higher is better, over 1000 frames of the scene video (NeMo's windows: each frame is run twice); ratio = clipfs / PyTorch $(/usr/bin/python3 -c 'import torch, os; print(torch.__version__, "with", os.cpu_count(), "threads")' 2>/dev/null) on the same CPU")
}

# ---- motion: motion score vs decoding the clip ----
# ---- stages: curate with every frame-reading stage vs transcode only ----
bench_stages() {
	local d=$WORK/stages r videos
	mkdir -p "$d"
	say "stages: making sample videos and random models"
	bash test/make-samples.sh "$d/videos" >>"$LOG" 2>&1 || fail "make-samples.sh failed"
	"$WORK/bin/randmodels" -out "$d/models" 2>>"$LOG" || fail "randmodels failed"
	videos=$(find "$d/videos" -type f | wc -l)
	row stages wall "curate, all frame stages / transcode only" s -
	local stages=(--motion-filter score-only --generate-previews --generate-embeddings --device cpu
		--embedding-model "$d/models/clip-embed" --aesthetic-model "$d/models/aesthetic.safetensors"
		--aesthetic-clip-model "$d/models/clip-aesthetic")
	stages_run() { # stages_run SIDE [FLAGS...]
		local side=$1
		shift
		rm -rf "$d/db"
		timed "$BIN" curate --input "$d/videos" --db "$d/db" --workers "$WORKERS" "$@"
		sample stages wall "$T" "$side"
	}
	for ((r = 1; r <= RUNS; r++)); do
		if ((r % 2 == 1)); then
			stages_run clipfs "${stages[@]}"
			stages_run base
		else
			stages_run base
			stages_run clipfs "${stages[@]}"
		fi
		progress stages "$r"
	done
	NOTES+=("stages: $videos videos of test/make-samples.sh, --workers $WORKERS; 'clipfs' is curate with motion, previews, embeddings and aesthetics on, 'baseline' the same curate transcoding only")
}

bench_motion() {
	row motion wall "motion score, s per min of clip" s -
	local r
	for ((r = 1; r <= RUNS; r++)); do
		gopair motion wall ./curate/motion/ MotionDecode DecodeOnly 3 # a 20 s clip: x3 per minute
		progress motion "$r"
	done
	NOTES+=("motion: NeMo samples ~2 fps and stops after max(10, whole seconds) frames with vectors, so it decodes about half of a clip; the baseline decodes all of it")
}

# ---- vit: CLIP ViT-B/32 on the CPU vs PyTorch on the same CPU ----
bench_vit() {
	local r b out fps torchfps
	/usr/bin/python3 -c 'import torch' 2>/dev/null || { say "vit: /usr/bin/python3 has no torch (apt-get install python3-torch); no baseline"; }
	for b in 1 8; do row vit "b$b" "ViT-B/32 CPU, batch $b" fps -; done
	for ((r = 1; r <= RUNS; r++)); do
		for b in 1 8; do
			out=$(go test -run '^$' -bench "ViTB32CPU/batch=$b\$" -benchtime=1x -count=1 ./curate/vit/ 2>>"$LOG") || fail "vit benchmark failed"
			fps=$(awk -v b="$b" '/^BenchmarkViTB32CPU/ { for (i = 3; i <= NF; i++) if ($i == "ns/op") print b / ($(i - 1) / 1e9) }' <<<"$out")
			[[ -n $fps ]] || fail "vit benchmark printed no figure: $out"
			sample vit "b$b" "$fps" clipfs
			torchfps=nan
			if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
				torchfps=$(/usr/bin/python3 curate/vit/kernels/bench_torch.py --device cpu --csv --batches "$b" --min-time 2 2>>"$LOG" | awk 'NF == 2 { print $2 }')
			fi
			sample vit "b$b" "${torchfps:-nan}" base
		done
		progress vit "$r"
	done
	NOTES+=("vit: frames/s, higher is better; ratio = clipfs / PyTorch $(/usr/bin/python3 -c 'import torch; import os; print(torch.__version__, "with", os.cpu_count(), "threads")' 2>/dev/null || echo '(absent)') on the same CPU")
}

# ---- shard: a virtual WebDataset shard through the mount ----
RSS_LIMIT=200 # MiB, the target for the mount process's peak RSS

dd_read() { dd if="$1" of=/dev/null bs=1M status=none; }

# rand_read FILE THREADS: sets V to the IOPS of bench/randread on FILE.
rand_read() {
	measured "$WORK/bin/randread" -n "$RAND_READS" -bs $((RAND_KIB << 10)) -threads "$2" "$1"
}

# daemon_rchar: bytes the mount process read with read calls.
daemon_rchar() { awk '$1 == "rchar:" { print $2 }' "/proc/$MOUNT_PID/io"; }

# vm_hwm_mib PID: the peak resident set of PID, in MiB.
vm_hwm_mib() { awk '$1 == "VmHWM:" { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

bench_shard() {
	local d=$WORK/shard
	mkdir -p "$d/mnt" "$d/ceil"
	say "shard: populating $SHARD_CLIPS clips of $SHARD_MIB MiB as one sealed shard"
	"$WORK/bin/populate" -db "$d/db" -n "$SHARD_CLIPS" -blobs 0 -size $((SHARD_MIB << 20)) -shard \
		-list "$d/blobs.txt" 2>>"$LOG" || fail "populate failed"
	local blobs
	mapfile -t blobs <"$d/blobs.txt"
	local shard=$d/mnt/wds/shard-000000.tar ceil=$d/ceil/shard-000000.tar local=$d/local.tar size
	mount_clipfs "$d/db" "$d/mnt"
	[[ -f $shard ]] || fail "the mount shows no $shard"
	size=$(stat -c %s "$shard")
	say "shard: materialising the $size-byte shard on local disk"
	cp "$shard" "$local" || fail "copying the shard out failed"
	unmount_clipfs "$d/mnt"
	((size >= 1 << 30)) || NOTES+=("shard: the shard is $size bytes, under the 1 GiB the figures ask for (SHARD_CLIPS x SHARD_MIB)")
	local gib mib
	gib=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 2^30 }')
	mib=$(awk -v s="$size" 'BEGIN { printf "%.4f", s / 2^20 }')
	mibs() { awk -v t="$T" -v m="$mib" 'BEGIN { printf "%.1f", m / t }'; }

	# The RSS shard: a second database, read once per run through a fresh
	# mount; no local copy of it is made.
	local rss_mib=$((RSS_CLIPS * SHARD_MIB)) avail rss_db=$d/rssdb
	if ((RSS_CLIPS > 0)); then
		avail=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
		if ((avail < rss_mib + 1024)); then
			NOTES+=("shard: peak RSS skipped: the $rss_mib MiB shard needs $((rss_mib + 1024)) MiB free under $WORK, $avail MiB are")
			RSS_CLIPS=0
		else
			say "shard: populating $RSS_CLIPS clips of $SHARD_MIB MiB for the peak RSS shard"
			timed "$WORK/bin/populate" -db "$rss_db" -n "$RSS_CLIPS" -blobs 0 -size $((SHARD_MIB << 20)) -shard
			NOTES+=("shard: populating the $RSS_CLIPS-clip RSS shard ($rss_mib MiB of blobs) took $(printf '%.0f' "$T") s")
		fi
	fi

	row shard seq_cold "seq ${gib} GiB, cold / FUSE ceiling" MiB/s -
	row shard seq_warm "seq re-read, warm / local file" MiB/s ge:0.4
	row shard seq_cold_l "seq, cold / local file, cold" MiB/s ge:0.8
	row shard seq_cold_b "seq, cold / cat of its blobs, cold" MiB/s -
	row shard seq_hot "seq, new mount, blobs cached / ceil." MiB/s -
	row shard seq_warm_c "seq re-read, warm / FUSE ceiling" MiB/s ge:0.95
	local t
	for t in 1 "$RAND_THREADS"; do
		row shard "r${t}_cold" "rand ${RAND_KIB}K x${t} thr, cold / local" IOPS -
		row shard "r${t}_warm" "rand ${RAND_KIB}K x${t} thr, warm / local" IOPS -
	done
	((RSS_CLIPS > 0)) && row shard rss "peak RSS, dd $((rss_mib >> 10)) GiB shard / limit" MiB lt:1

	: >"$d/notes"
	shard_clipfs() {
		local rc0 rc1
		mount_clipfs "$d/db" "$d/mnt"
		drop_caches
		timed dd_read "$shard"
		sample shard seq_cold "$(mibs)" clipfs; sample shard seq_cold_l "$(mibs)" clipfs; sample shard seq_cold_b "$(mibs)" clipfs
		rc0=$(daemon_rchar)
		timed dd_read "$shard"; sample shard seq_warm "$(mibs)" clipfs; sample shard seq_warm_c "$(mibs)" clipfs
		for t in 1 "$RAND_THREADS"; do rand_read "$shard" "$t"; sample shard "r${t}_warm" "$V" clipfs; done
		rc1=$(daemon_rchar)
		echo "clipfs_warm_rchar $((rc1 - rc0))" >>"$d/notes"
		echo "clipfs_hwm $(vm_hwm_mib "$MOUNT_PID")" >>"$d/notes"
		unmount_clipfs "$d/mnt"
		# A new mount (its page cache empty) with the blobs still cached:
		# the mount's own cost without the disk's.
		mount_clipfs "$d/db" "$d/mnt"
		timed dd_read "$shard"; sample shard seq_hot "$(mibs)" clipfs
		unmount_clipfs "$d/mnt"
		for t in 1 "$RAND_THREADS"; do
			mount_clipfs "$d/db" "$d/mnt"
			drop_caches
			rand_read "$shard" "$t"; sample shard "r${t}_cold" "$V" clipfs
			unmount_clipfs "$d/mnt"
		done
	}
	shard_ceiling() {
		serve "$d/ceil" "bench/fuseceiling" "$WORK/bin/fuseceiling" -size "$size" -name shard-000000.tar "$d/ceil"
		drop_caches
		timed dd_read "$ceil"; sample shard seq_cold "$(mibs)" base; sample shard seq_hot "$(mibs)" base
		timed dd_read "$ceil"; sample shard seq_warm_c "$(mibs)" base
		echo "ceiling_hwm $(vm_hwm_mib "$MOUNT_PID")" >>"$d/notes"
		unmount_clipfs "$d/ceil"
	}
	shard_local() {
		drop_caches
		timed dd_read "$local"; sample shard seq_cold_l "$(mibs)" base
		timed dd_read "$local"; sample shard seq_warm "$(mibs)" base
		for t in 1 "$RAND_THREADS"; do rand_read "$local" "$t"; sample shard "r${t}_warm" "$V" base; done
		for t in 1 "$RAND_THREADS"; do
			drop_caches
			rand_read "$local" "$t"; sample shard "r${t}_cold" "$V" base
		done
		drop_caches
		timed cat "${blobs[@]}"; sample shard seq_cold_b "$(mibs)" base # one process, not dd per file
	}
	shard_rss() {
		mount_clipfs "$rss_db" "$d/mnt"
		drop_caches
		timed dd_read "$d/mnt/wds/shard-000000.tar"
		sample shard rss "$(vm_hwm_mib "$MOUNT_PID")" clipfs
		sample shard rss "$RSS_LIMIT" base
		echo "rss_mibs $(awk -v t="$T" -v m="$(stat -c %s "$d/mnt/wds/shard-000000.tar")" 'BEGIN { printf "%.0f", m / 2^20 / t }')" >>"$d/notes"
		unmount_clipfs "$d/mnt"
	}
	local r
	for ((r = 1; r <= RUNS; r++)); do
		# Odd runs measure clipfs first, even runs the baselines first.
		if ((r % 2 == 1)); then
			shard_clipfs; shard_ceiling; shard_local
		else
			shard_local; shard_ceiling; shard_clipfs
		fi
		((RSS_CLIPS > 0)) && shard_rss
		progress shard "$r"
	done
	notes_max() { awk -v k="$1" '$1 == k { print $2 }' "$d/notes" | sort -g | tail -n 1; }
	NOTES+=("shard: the mount process read up to $(notes_max clipfs_warm_rchar) bytes (rchar, FUSE requests included) during the warm re-read and warm random reads (next to nothing: served from the kernel cache)")
	NOTES+=("shard: peak RSS after the ${gib} GiB figures: clipfs up to $(notes_max clipfs_hwm) MiB, bench/fuseceiling up to $(notes_max ceiling_hwm) MiB")
	if ((RSS_CLIPS > 0)); then
		NOTES+=("shard: the cold dd of the $((rss_mib >> 10)) GiB RSS shard ran at $(awk '$1 == "rss_mibs" { print $2 }' "$d/notes" | sort -g | tr '\n' ' ')MiB/s")
	fi
}

# ---- s3: a shard through `clipfs mount s3://` vs direct GETs ----
WEED_PID=""

# weed_bin: the SeaweedFS binary s3test uses ($CLIPFS_WEED, else the one
# scripts/install.sh test built).
weed_bin() {
	if [[ -n ${CLIPFS_WEED:-} ]]; then echo "$CLIPFS_WEED"; return; fi
	local v
	v=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$ROOT/index/s3store/s3test/s3test.go")
	local c
	for c in ${CLIPFS_CACHE:-} /var/cache/clipfs "${XDG_CACHE_HOME:-$HOME/.cache}/clipfs"; do
		[[ -x $c/seaweedfs-$v/weed ]] && { echo "$c/seaweedfs-$v/weed"; return; }
	done
	return 1
}

# start_weed DIR: a `weed mini` with authentication on, every port on
# loopback (as index/s3store/s3test starts it), bucket clipfs-bench; exports
# the AWS_* variables that point clipfs and bench/s3get at it.
start_weed() {
	local dir=$1 bin p
	bin=$(weed_bin) || die "s3: no SeaweedFS weed binary (scripts/install.sh test builds it; \$CLIPFS_WEED names one)"
	mkdir -p "$dir/data"
	mapfile -t p < <("$WORK/bin/s3get" ports 11)
	export AWS_ENDPOINT_URL=http://127.0.0.1:${p[0]} AWS_REGION=us-east-1
	export AWS_ACCESS_KEY_ID=clipfsbench$RANDOM AWS_SECRET_ACCESS_KEY=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
	unset AWS_PROFILE AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN
	(cd "$dir" && HOME=$dir exec setsid "$bin" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
		-s3.port="${p[0]}" -s3.port.grpc="${p[1]}" -master.port="${p[2]}" -master.port.grpc="${p[3]}" \
		-volume.port="${p[4]}" -volume.port.grpc="${p[5]}" -filer.port="${p[6]}" -filer.port.grpc="${p[7]}" \
		-admin.port="${p[8]}" -admin.port.grpc="${p[9]}" -webdav.port="${p[10]}" \
		-admin.port.legacy=0 -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false \
		-filer.localSocket="$dir/filer.sock" -s3.localSocket="$dir/s3.sock" \
		-master.telemetry=false -bucket=clipfs-bench) >"$dir/weed.log" 2>&1 &
	WEED_PID=$!
	"$WORK/bin/s3get" ready s3://clipfs-bench 2>>"$LOG" || { tail -n 20 "$dir/weed.log" >&2; fail "weed mini did not answer"; }
}

stop_weed() {
	[[ -n $WEED_PID ]] || return 0
	kill -TERM -- "-$WEED_PID" 2>/dev/null || true
	local i
	for ((i = 0; i < 150; i++)); do kill -0 "$WEED_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL -- "-$WEED_PID" 2>/dev/null || true
	wait "$WEED_PID" 2>/dev/null || true
	WEED_PID=""
}

# wait_path_s PATH SECONDS: polls (every 5 ms) until PATH exists.
wait_path_s() {
	local i n=$(($2 * 200))
	for ((i = 0; i < n; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.005
	done
	return 1
}

# proc_cpu PID: the user and system CPU seconds PID has used.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }

bench_s3() {
	local d=$WORK/s3 uri=s3://clipfs-bench/bench
	local shard_mib=$((S3_CLIPS * S3_CLIP_MIB))
	mkdir -p "$d/mnt"
	say "s3: starting weed mini"
	start_weed "$d/weed"
	say "s3: populating $S3_CLIPS clips of $S3_CLIP_MIB MiB as one sealed shard in $uri"
	timed "$WORK/bin/populate" -db "$d/db" -store "$uri" -n "$S3_CLIPS" -blobs 0 -size $((S3_CLIP_MIB << 20)) -shard -list "$d/blobs.txt"
	NOTES+=("s3: populating $shard_mib MiB of blobs into the bucket (and publishing) took $(printf '%.0f' "$T") s")
	local blobs
	mapfile -t blobs <"$d/blobs.txt"
	local shard=$d/mnt/wds/shard-000000.tar local=$d/local.tar cache=$d/cache size
	mount_s3() { serve "$d/mnt" "clipfs mount $uri" "$BIN" mount "$uri" "$d/mnt" --cache-dir "$cache" --cache-size "$S3_CACHE" --poll 1s; }
	rm -rf "$cache"
	mount_s3
	[[ -f $shard ]] || fail "the s3 mount shows no $shard"
	size=$(stat -c %s "$shard")
	say "s3: materialising the $size-byte shard on local disk"
	cp "$shard" "$local" || fail "copying the shard out failed"
	local clip
	clip=$(ls "$d/mnt/clips" | head -n 1)
	unmount_clipfs "$d/mnt"
	local ttfb_blob=${blobs[0]} # the first clip's blob (blobs.txt is in clip-name order)
	local gib mib
	gib=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 2^30 }')
	mib=$(awk -v s="$size" 'BEGIN { printf "%.4f", s / 2^20 }')
	mibs() { awk -v t="$T" -v m="$mib" 'BEGIN { printf "%.1f", m / t }'; }

	row s3 seq_cold "seq ${gib} GiB, cold / direct GETs" MiB/s ge:0.8
	row s3 seq_cache "re-read from cache / local file, cold" MiB/s ge:0.4
	row s3 ttfb "first byte of a clip, cold / direct GET" s -
	row s3 lag "commit -> visible (--poll 1s) / poll" s -
	row s3 rss "mount peak RSS after cold read / limit" MiB lt:1

	: >"$d/notes"
	s3_clipfs() {
		# First byte of a clip: a fresh mount, an empty cache.
		rm -rf "$cache"
		mount_s3
		drop_caches
		timed head -c 1 "$d/mnt/clips/$clip"; sample s3 ttfb "$T" clipfs
		unmount_clipfs "$d/mnt"
		# The cold read: a fresh mount, an empty cache.
		rm -rf "$cache"
		mount_s3
		drop_caches
		local cpu0 cpu1
		cpu0=$(proc_cpu "$MOUNT_PID")
		timed dd_read "$shard"; sample s3 seq_cold "$(mibs)" clipfs
		cpu1=$(proc_cpu "$MOUNT_PID")
		echo "cold_cpu $(awk -v a="$cpu0" -v b="$cpu1" -v t="$T" 'BEGIN { printf "%.2f", (b - a) / t }')" >>"$d/notes"
		sample s3 rss "$(vm_hwm_mib "$MOUNT_PID")" clipfs
		sample s3 rss "$RSS_LIMIT" base
		echo "cached_mib $(du -sm "$cache/blobs" | cut -f1)" >>"$d/notes"
		unmount_clipfs "$d/mnt"
		# The re-read from the cache: a new mount on the same cache.
		mount_s3
		drop_caches
		timed dd_read "$shard"; sample s3 seq_cache "$(mibs)" clipfs
		# Replication lag: a chunk committed and published by the owner,
		# seen by this mount polling every second.
		local st c p name s
		drop_caches
		"$WORK/bin/populate" -db "$d/db" -store "$uri" -n 1 -size 65536 -first-video $((100000 + r)) -stamp "$d/stamp" 2>>"$LOG" ||
			fail "populate (the lag's chunk) failed"
		read -r c p name <"$d/stamp"
		wait_path_s "$d/mnt/clips/$name" 60 || fail "the committed clip $name never appeared in the s3 mount"
		s=$EPOCHREALTIME
		sample s3 lag "$(awk -v c="$c" -v s="$s" 'BEGIN { printf "%.4f", s - c }')" clipfs
		sample s3 lag 1 base
		echo "publish_s $(awk -v c="$c" -v p="$p" 'BEGIN { printf "%.3f", p - c }')" >>"$d/notes"
		unmount_clipfs "$d/mnt"
	}
	s3_base() {
		drop_caches
		measured "$WORK/bin/s3get" seq -range $((S3_RANGE_MIB << 20)) "$uri" "${blobs[@]}"; sample s3 seq_cold "$V" base
		drop_caches
		timed dd_read "$local"; sample s3 seq_cache "$(mibs)" base
		drop_caches
		measured "$WORK/bin/s3get" ttfb "$uri" "$ttfb_blob"; sample s3 ttfb "$V" base
	}
	local r
	for ((r = 1; r <= RUNS; r++)); do
		# Odd runs measure clipfs first, even runs the baselines first.
		if ((r % 2 == 1)); then s3_clipfs; s3_base; else s3_base; s3_clipfs; fi
		progress s3 "$r"
	done
	stop_weed
	unset AWS_ENDPOINT_URL AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	notes_max() { awk -v k="$1" '$1 == k { print $2 }' "$d/notes" | sort -g | tail -n 1; }
	NOTES+=("s3: the shard is $size bytes ($S3_CLIPS clips of $S3_CLIP_MIB MiB and their json members); direct GETs of its $S3_CLIPS blobs in $S3_RANGE_MIB MiB ranges, one at a time; the cold read left up to $(notes_max cached_mib) MiB in the cache")
	NOTES+=("s3: the mount process used $(awk '$1 == "cold_cpu" { print $2 }' "$d/notes" | sort -g | tr '\n' ' ')CPU-seconds per second of the cold read (user + system, on $(nproc) cores shared with weed mini)")
	NOTES+=("s3: first byte: head -c 1 of a $S3_CLIP_MIB MiB clip through a fresh mount (clips are fetched whole) vs a GET's first byte on a fresh client (timed inside bench/s3get; the mount's figure includes starting head, about 1 ms)")
	NOTES+=("s3: lag: from just before the chunk commit to the clip in the mount; the commit and publish alone took up to $(notes_max publish_s) s")
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
		if [[ $target == - ]]; then # reported, not judged
			printf '%-7s %-38s %10s %10s %6s %7s  %-8s %s\n' "$b" "$label" "$(show "$cl" "$unit")" "$(show "$ba" "$unit")" \
				"${ratio}x" "${paired}x" "-" ""
			continue
		fi
		op=${target%%:*} lim=${target#*:}
		ok=$(awk -v r="$ratio" -v l="$lim" -v op="$op" 'BEGIN { print ((op == "le" ? r <= l : op == "lt" ? r < l : r >= l) ? "ok" : "MISS") }')
		printf '%-7s %-38s %10s %10s %6s %7s  %-8s %s\n' "$b" "$label" "$(show "$cl" "$unit")" "$(show "$ba" "$unit")" \
			"${ratio}x" "${paired}x" "$(case $op in le) echo '<=' ;; lt) echo '<' ;; *) echo '>=' ;; esac) ${lim}x" "$ok"
		n=$((n + 1))
		[[ $ok == ok ]] || misses+=("$label ${ratio}x")
	done
	case $bench in
	ls) what="cold ls -l <= 1.5x tmpfs, warm ls -l and cold find <= 2x, peak RSS < $RSS_LIMIT MiB" ;;
	read) what=">= 0.8x direct blob reads, cold --no-passthrough >= 0.7x" ;;
	curate) what="<= 1.15x the same ffmpeg commands under xargs -P $WORKERS" ;;
	stages) what="reported" ;;
	shard) what="cold >= 0.8x the local file read cold, warm >= 0.4x the local file and >= 0.95x the FUSE ceiling, peak RSS < $RSS_LIMIT MiB" ;;
	s3) what="cold >= 0.8x direct ranged GETs, cached re-read >= 0.4x a local file read cold, peak RSS < $RSS_LIMIT MiB; first byte and lag reported" ;;
	scene) what="<= 0.5x PySceneDetect" ;;
	transnet) what=">= 2x the PyTorch reference" ;;
	vit) what="reported" ;;
	motion) what="reported" ;;
	serve) what="ls -l while curating <= 2x the idle warm ls; latency reported" ;;
	workers) what="<= 1.10x a local curate with the same ffmpeg slots; scaling and per-job overhead reported" ;;
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
	fps) awk -v v="$1" 'BEGIN { printf "%.2f f/s", v }' ;;
	*) awk -v v="$1" -v u="$2" 'BEGIN { printf "%.0f %s", v, u }' ;;
	esac
}

if [[ " ${benches[*]} " == *" s3 "* ]] && ! weed_bin >/dev/null; then
	say "s3: skipped: no SeaweedFS weed binary (scripts/install.sh test builds it; \$CLIPFS_WEED names one)"
	nb=()
	for b in "${benches[@]}"; do [[ $b == s3 ]] || nb+=("$b"); done
	benches=("${nb[@]}")
	[[ ${#benches[@]} -gt 0 ]] || exit 0
fi
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
	echo "baselines: ls = same files on tmpfs; read = dd of the blob files under DB/blobs; curate = bench/ffmpegcmds under xargs -P $WORKERS$([[ " ${benches[*]} " == *" shard "* ]] && echo ';')"
	[[ " ${benches[*]} " == *" scene "* ]] && echo "  scene = PySceneDetect's detect(path, ContentDetector()); transnet = the PyTorch reference; motion = libavcodec decoding the whole clip, no vectors"
	[[ " ${benches[*]} " == *" s3 "* ]] && echo "  s3 = bench/s3get (minio-go ranged GETs / first byte of a GET) from the same weed mini for cold and first byte, a local copy of the shard read cold for the cached re-read, --poll for the lag, the $RSS_LIMIT MiB limit for RSS"
	[[ " ${benches[*]} " == *" shard "* ]] && echo "  shard = bench/fuseceiling (go-fuse file served from memory, clipfs's mount options) for cold, a copy of the shard on local disk for warm and random reads, the $RSS_LIMIT MiB limit for RSS; '-': reported, no target"
	echo "took ${elapsed} s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
}
