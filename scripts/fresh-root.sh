#!/usr/bin/env bash
# fresh-root.sh [WORKDIR]: checks README's two commands on a fresh Debian 12.
# It builds a minimal root with debootstrap (plus make, gcc, libc6-dev, git,
# curl, python3, ca-certificates, and this machine's Go), clones this
# repository's HEAD into it, and runs `make demo` then `make test` there as
# root, printing how long each took. Needs root, debootstrap and the
# network this machine has; the root is made under WORKDIR (default
# /var/tmp/clipfs-fresh) and removed afterwards unless KEEP=1.
# The machine's own CA certificates, apt settings, npm and Go environment
# are copied in, so the root reaches the same package registries.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/clipfs-fresh}
root=$work/root
say() { echo "fresh-root: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "run as root (debootstrap, chroot, bind mounts)"; exit 1; }
command -v debootstrap >/dev/null || { say "debootstrap is missing: apt-get install debootstrap"; exit 1; }
goroot=$(go env GOROOT)
mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /:\/\// && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { say "no Debian archive found in this machine's apt sources"; exit 1; }

cleanup() {
	for d in sys proc dev; do umount -R "$root/$d" 2>/dev/null || true; done
	[ "${KEEP:-}" = 1 ] || rm -rf "$root"
}
trap cleanup EXIT
rm -rf "$root" && mkdir -p "$work"
say "debootstrap bookworm into $root (from $mirror)"
debootstrap --variant=minbase --include=make,gcc,libc6-dev,git,curl,python3,ca-certificates \
	bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail "$work/debootstrap.log"; exit 1; }
cp -a "$goroot" "$root/usr/local/go"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
cp -a /etc/apt/apt.conf.d/. "$root/etc/apt/apt.conf.d/" 2>/dev/null || true
[ -f "$HOME/.npmrc" ] && cp "$HOME/.npmrc" "$root/root/.npmrc"
if [ -f "$(go env GOENV)" ]; then mkdir -p "$root/root/.config/go" && cp "$(go env GOENV)" "$root/root/.config/go/env"; fi
"$(command -v chroot)" "$root" /usr/sbin/update-ca-certificates >/dev/null 2>&1 || true
for d in dev proc sys; do mount --rbind "/$d" "$root/$d"; done
git clone -q "$repo" "$root/src"
cat >"$root/run.sh" <<'EOF'
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
cd /src
s=$(date +%s); make demo >/demo.log 2>&1; rc=$?; echo "make demo: exit $rc in $(($(date +%s) - s)) s"; [ $rc -eq 0 ] || exit $rc
s=$(date +%s); make test >/test.log 2>&1; rc=$?; echo "make test: exit $rc in $(($(date +%s) - s)) s"; exit $rc
EOF
set +e
env -i "$(command -v chroot)" "$root" /bin/bash /run.sh
rc=$?
cp "$root/demo.log" "$root/test.log" "$work/" 2>/dev/null
say "logs in $work/demo.log and $work/test.log"
exit $rc
