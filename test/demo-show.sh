#!/usr/bin/env bash
# demo-show.sh BIN DEMO_DIR: mounts DEMO_DIR/db at DEMO_DIR/mnt, shows the
# tree a NeMo Curator user would recognise, reads from it, and unmounts.
set -euo pipefail
bin=$1 demo=$2
mnt=$demo/mnt
mkdir -p "$mnt"
"$bin" mount --db "$demo/db" "$mnt" &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q " $(realpath "$mnt") " /proc/self/mountinfo && break; sleep 0.1; done

echo
echo "== the mounted tree (first entries of each folder)"
(cd "$mnt" && for d in $(find . -maxdepth 2 -type d | sort); do
	n=$(find "$d" -maxdepth 1 -type f | wc -l)
	printf '%-40s %5d files\n' "$d/" "$n"
done)
echo
echo "== ls -l $mnt/clips | head -5"
ls -l "$mnt/clips" | sed -n 1,5p
meta=$(find "$mnt/metas/v0" -name '*.json' | sort | sed -n 1p)
echo
echo "== $meta"
cat "$meta"; echo
video=$(find "$mnt/processed_videos" -name '*.json' | sort | sed -n 1p)
echo
echo "== $video"
cat "$video"; echo
clip=$(find "$mnt/clips" -name '*.mp4' | sort | sed -n 1p)
echo
echo "== reading $clip through the mount"
ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=codec_name,width,height,nb_read_frames -of default=nw=1 "$clip"
cp "$clip" "$demo/copied.mp4" && cmp "$clip" "$demo/copied.mp4" && echo "cp: $(stat -c %s "$demo/copied.mp4") bytes, identical"
shard=$(find "$mnt/wds" -name '*.tar' | sort | sed -n 1p)
echo
echo "== reading $shard (a WebDataset shard generated on read)"
tar -tvf "$shard" | sed -n 1,4p
echo "... $(tar -tf "$shard" | wc -l) members, $(stat -c %s "$shard") bytes; wds/shards.json:"
cat "$mnt/wds/shards.json"; echo
echo
echo "== writes are refused"
touch "$mnt/clips/new.mp4" 2>&1 || true
echo
echo "demo done: the database is in $demo/db; mount it yourself with: $bin mount --db $demo/db $mnt"
