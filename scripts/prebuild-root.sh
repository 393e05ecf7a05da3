#!/usr/bin/env bash
# The build root for the release binaries: Debian 11 "bullseye" (glibc 2.31,
# GCC 10, CMake 3.18), made with debootstrap. Binaries linked against its glibc
# load on any Linux with glibc 2.31 or newer (Debian 11, Ubuntu 20.04, RHEL 9
# and later); linked on a newer system they may need symbols an older glibc
# lacks (arc4random, _dl_find_object, pthread_* at GLIBC_2.34).
#
# Usage: scripts/prebuild-root.sh ensure         make the root unless a verified one is there; prints its path
#        scripts/prebuild-root.sh verify         exit 0 when a verified root is there (prints its path), else 1
#        scripts/prebuild-root.sh run [--bind DIR]... CMD [ARGS]...
#                                                run CMD in the root, in this checkout
#
# `run` works in a private mount namespace (nothing stays mounted afterwards):
# this checkout (read-write) and each --bind DIR appear at their own paths;
# the running node (as /usr/local/bin/node: Node 20's official build needs
# glibc 2.28), its headers and, where present, /usr/local/cuda are mounted
# read-only. The root itself has no node, npm or CUDA of its own.
#
# Reuse: the root is made once per machine, never shipped or cached elsewhere.
# A root is reused only when its stamp (written last, after the checks below
# passed) names the same recipe and the checks pass again; otherwise it is
# made anew. Needs root, debootstrap (apt-get install debootstrap) and
# Debian's archive.
#
# Env: SK_BUILD_ROOT (default /var/cache/sparsekit/bullseye-root),
#      SK_DEBIAN_MIRROR (default http://deb.debian.org/debian)
set -euo pipefail

checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${SK_BUILD_ROOT:-/var/cache/sparsekit/bullseye-root}
mirror=${SK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bullseye
glibc=2.31
packages=(g++ make python3 cmake ninja-build binutils g++-aarch64-linux-gnu binutils-aarch64-linux-gnu)
recipe="sparsekit build root 1: debian $suite minbase + ${packages[*]}"
stamp=$root/.sparsekit-root

log() { printf 'prebuild-root: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The checks a root must pass to be used: the recipe, every package, and the tools' versions.
verify() {
  [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ] || return 1
  local missing
  missing=$(chroot "$root" dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>&1 | grep -v '^ii ' || true)
  [ -z "$missing" ] || { log "packages missing in $root: $missing"; return 1; }
  local libc gxx cross
  libc=$(chroot "$root" ldd --version | head -n 1 | awk '{print $NF}')
  gxx=$(chroot "$root" g++ -dumpversion)
  cross=$(chroot "$root" aarch64-linux-gnu-g++ -dumpversion)
  [ "$libc" = "$glibc" ] || { log "$root has glibc $libc, not $glibc"; return 1; }
  [ "${gxx%%.*}" = 10 ] && [ "${cross%%.*}" = 10 ] || { log "$root has g++ $gxx / aarch64 g++ $cross, not 10"; return 1; }
  chroot "$root" sh -c 'cmake --version && python3 --version && make --version && ninja --version && readelf --version' >/dev/null ||
    { log "a tool in $root does not run"; return 1; }
}

create() {
  command -v debootstrap >/dev/null || die "debootstrap not found; install it with: apt-get install debootstrap"
  [ "$(id -u)" = 0 ] || die "making the build root needs root (debootstrap, chroot)"
  local start=$SECONDS
  log "making $root: debootstrap $suite with ${packages[*]} (a few minutes)"
  rm -rf "$root"
  mkdir -p "$(dirname "$root")"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" "$suite" "$root" "$mirror" >"$root.log" 2>&1 ||
    { tail -n 20 "$root.log" >&2; die "debootstrap failed (log: $root.log)"; }
  chroot "$root" apt-get clean
  printf '%s\n' "$recipe" >"$stamp"
  verify || { rm -f "$stamp"; die "the new root at $root fails its checks"; }
  log "made $root in $((SECONDS - start))s: glibc $glibc, g++ $(chroot "$root" g++ -dumpversion), $(chroot "$root" cmake --version | head -n 1)"
}

# Bind-mounts $1 at the same path inside the root ($2: ro for read-only).
bind() {
  local src=$1 dest=$root$1
  if [ -d "$src" ]; then mkdir -p "$dest"; else mkdir -p "$(dirname "$dest")" && touch "$dest"; fi
  mount --bind "$src" "$dest"
  [ "${2:-}" != ro ] || mount -o remount,bind,ro "$dest"
}

# Runs inside `unshare --mount`: the mounts below vanish with the namespace.
inner() {
  local binds=()
  while [ "${1:-}" = --bind ]; do binds+=("$2"); shift 2; done
  mount --rbind /dev "$root/dev"
  mount -t proc proc "$root/proc"
  bind "$checkout"
  for dir in "${binds[@]}"; do bind "$(cd "$dir" && pwd)"; done
  local node node_prefix
  node=$(readlink -f "$(command -v node)")
  node_prefix=$(dirname "$(dirname "$node")")
  touch "$root/usr/local/bin/node"
  mount --bind "$node" "$root/usr/local/bin/node" && mount -o remount,bind,ro "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/include/node"
  mount --bind "$node_prefix/include/node" "$root/usr/local/include/node" && mount -o remount,bind,ro "$root/usr/local/include/node"
  if [ -d /usr/local/cuda ]; then
    mkdir -p "$root/usr/local/cuda"
    mount --bind "$(readlink -f /usr/local/cuda)" "$root/usr/local/cuda" && mount -o remount,bind,ro "$root/usr/local/cuda"
  fi
  # The build's own settings pass through (SPARSEKIT_*, SK_*, JOBS); nothing else of this machine's environment does.
  local pass=() var
  for var in $(compgen -e); do
    [[ $var =~ ^(SPARSEKIT_|SK_)|^JOBS$ ]] && pass+=("$var=${!var}")
  done
  exec chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp/sparsekit-home LANG=C.UTF-8 \
    SK_IN_BUILD_ROOT=1 "${pass[@]}" /bin/sh -c 'mkdir -p "$HOME" && cd "$0" && exec "$@"' "$PWD" "$@"
}

case "${1:-}" in
  ensure)
    if verify 2>/dev/null; then log "reusing $root (verified)"; else create; fi
    printf '%s\n' "$root" ;;
  verify)
    verify && printf '%s\n' "$root" ;;
  run)
    shift
    [ $# -gt 0 ] || die "usage: scripts/prebuild-root.sh run [--bind DIR]... CMD [ARGS]..."
    verify || die "no verified build root at $root; make it with: scripts/prebuild-root.sh ensure"
    exec unshare --mount --propagation private bash "${BASH_SOURCE[0]}" __inner "$@" ;;
  __inner)
    shift
    inner "$@" ;;
  *) die "usage: scripts/prebuild-root.sh ensure | verify | run [--bind DIR]... CMD [ARGS]..." ;;
esac
