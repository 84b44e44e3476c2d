#!/bin/bash
# deps.sh: fail when a package imports against the direction docs/design.md
# gives. It reads `go list` of the default build (no tags, no test files),
# so CUDA files (build tag cuda) and test imports are not seen.
#
# Each clipfs package may import only the clipfs packages its line allows
# (a regular expression over paths relative to the module; "-" for none).
# A package missing from the table fails too: a new package says where it
# stands before it lands.
set -euo pipefail
GO=${GO:-go}
allowed='
pack                       -
index                      -
index/blobtest             ^index$
index/s3store              ^index$
index/s3store/s3test       -
index/blobcache            ^index$
clipwriter                 ^(index|pack)$
clipwriter/clipwritertest  ^pack$
curate/plan                -
curate/fault               -
curate/motion              -
curate/safetensors         -
curate/gemm                -
curate/modeltest           ^curate/(safetensors|vit)$
curate/watch               -
curate/media               ^curate/fault$
curate/caption             ^curate/fault$
curate/aesthetic           ^curate/safetensors$
curate/vit                 ^curate/(safetensors|gemm)$
curate/transnet            ^(pack|curate/(safetensors|gemm))$
curate/publish             ^(index|pack|clipwriter)$
curate/importer            ^(index|pack|clipwriter|curate/(plan|fault|publish))$
curate                     ^(index|curate/(plan|fault|media|publish|motion|vit|transnet|aesthetic|caption|safetensors))$
curate/jobs                ^(index|curate)$
curate/broker              -
curate/worker              ^(index(/s3store)?|curate|curate/(fault|jobs|media))$
curate/dispatch            ^(index|curate|curate/(fault|jobs))$
curate/daemon              ^(index|curate|curate/(fault|watch|jobs))$
curate/control             ^(index|curate|curate/(daemon|fault))$
fs/tree                    ^(index|pack|clipwriter)$
fs/tree/treetest           ^index$
fs/mount                   ^(fs/tree|index|pack|clipwriter)$
cmd/clipfs                 ^(index(/(s3store|blobcache))?|pack|clipwriter|fs/(tree|mount)|curate(/.*)?)$
bench/.*                   ^(index(/s3store)?|pack|clipwriter|fs/(tree|mount)|curate(/.*)?)$
test                       ^(index(/s3store(/s3test)?)?|pack|clipwriter(/.*)?|fs/(tree(/treetest)?|mount)|curate(/.*)?)$
'
$GO list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | awk -v allowed="$allowed" '
function bad(msg) { print "deps: " p " " msg; fail = 1 }
BEGIN {
	n = split(allowed, lines, "\n")
	for (i = 1; i <= n; i++) if (split(lines[i], f, " ") == 2) { pat[++np] = "^" f[1] "$"; may[np] = f[2] }
}
{
	p = $1; sub("^github.com/clipfs/clipfs/?", "", p)
	rule = 0
	for (i = 1; i <= np; i++) if (p ~ pat[i]) { rule = i; break }
	if (!rule) bad("is not in scripts/deps.sh: say which clipfs packages it may import")
	for (i = 2; i <= NF; i++) {
		d = $i
		if (d ~ /dgraph-io\/badger/ && p != "index") bad("imports " d " (only index may)")
		if (d ~ /hanwen\/go-fuse/ && p != "fs/mount" && p !~ /^(test|bench\/)/) bad("imports " d " (only fs/mount may)")
		if (d == "syscall" && p ~ /^fs\/tree/) bad("imports " d " (the pure tree returns plain Go errors; errnos are fs/mount'"'"'s)")
		if (d ~ /gorgonia.org\/cu/) bad("imports " d " outside the cuda build tag")
		if (d ~ /prometheus/ && p !~ /^cmd\//) bad("imports " d " (metrics live in cmd/clipfs)")
		if (d ~ /nats-io\/nats-server/ && p != "curate/broker" && p !~ /^(test|bench\/)/) bad("imports " d " (only curate/broker embeds the server)")
		if (d ~ /nats-io\/nats.go/ && p !~ /^(curate\/(jobs|worker|dispatch)|cmd\/clipfs|test|bench\/.*)$/) bad("imports " d " (the queue is curate/jobs, worker and dispatch)")
		if (d !~ /^github.com\/clipfs\/clipfs\//) continue
		sub("^github.com/clipfs/clipfs/", "", d)
		if (rule && (may[rule] == "-" || d !~ may[rule])) bad("imports " d " (it may import: " may[rule] ")")
	}
}
END { exit fail }'
echo "deps: every import points the way docs/design.md says"
