#!/usr/bin/env bash
# Proves a CUDA refactor changes no machine code, without a GPU: compiles
# every kernel instance (cuda/*/inst/*.cu; SK_SASS_ALL=1 adds every other .cu
# file CMakeLists.txt lists) of two revisions with the project's nvcc flags and
# -keep, then compares, per instance and architecture, the cubins nvcc kept
# (SASS for sm_80, sm_89, sm_90a) and the compute_90 PTX that ships for JIT.
#
#   scripts/cuda-sass-diff.sh BASE [HEAD]
#
# BASE and HEAD are git revisions; HEAD defaults to the working tree. Instances
# are matched by the kernels they define (mangled names), so renamed instance
# files still pair up. A cubin is "identical" when its bytes are; kernels in
# an unnamed namespace, whose names carry an id nvcc derives from the source's
# path, are "identical but for the unnamed-namespace id" when every section
# but the symbol and string tables is; otherwise the sections that differ are
# listed (scripts/cubin-sections.mjs). PTX is "identical" (with that id
# blanked), or "same modulo register numbering" after renumbering each
# function's virtual registers in order of first use, or different (then the
# instruction counts that differ, registers abstracted, are listed).
# Outputs stay in SK_SASS_OUT (default: a new temporary folder), printed at the
# end; SK_SASS_REUSE=1 compares the outputs already there without compiling.
# Exit status: 0 when every cubin is identical (bytes, or but for the id) and
# every PTX at least the same modulo register numbering, 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=${1:?usage: scripts/cuda-sass-diff.sh BASE [HEAD]}
head=${2:-}
out=${SK_SASS_OUT:-$(mktemp -d /tmp/sk-sass-XXXXXX)}
nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
mkdir -p "$out"

# The flags CMakeLists.txt gives the CUDA files for the default architectures
# (SPARSEKIT_CUDA_ARCHS 80;89;90a: SASS for each, PTX for compute_90).
flags=(-O3 -DNDEBUG
  --generate-code=arch=compute_80,code=[sm_80] --generate-code=arch=compute_89,code=[sm_89]
  --generate-code=arch=compute_90a,code=[sm_90a] --generate-code=arch=compute_90,code=[compute_90]
  -Xcompiler=-fPIC -Xcompiler=-fvisibility=hidden --ftz=false --prec-div=true --threads=0 -std=c++17
  -DNAPI_VERSION=9 -DNODE_ADDON_API_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED
  -I"$root/node_modules/node-api-headers/include" -I"$root/node_modules/node-addon-api")

# build SIDE REV: sources of REV (or the working tree) → $out/SIDE/keep/<file>/
build() {
  local side=$1 rev=$2 src
  if [ "${SK_SASS_REUSE:-0}" = 1 ] && [ -d "$out/$side/keep" ]; then
    echo "== $side: reusing $out/$side/keep"
    return
  fi
  if [ -z "$rev" ]; then
    src=$root
  else
    src=$out/$side/src
    rm -rf "$src" && mkdir -p "$src"
    git -C "$root" archive "$rev" | tar -x -C "$src"
  fi
  local files
  files=$(cd "$src" && ls cuda/*/inst/*.cu)
  if [ "${SK_SASS_ALL:-0}" = 1 ]; then
    files=$(printf '%s\n' "$files" $(cd "$src" && grep -oE '^\s*cuda/[^ ]+\.cu$' CMakeLists.txt | tr -d ' ') | sort -u)
  fi
  echo "== $side (${rev:-working tree}): $(echo "$files" | wc -l) files"
  for f in $files; do
    local keep=$out/$side/keep/${f//\//+}
    rm -rf "$keep" && mkdir -p "$keep"
    printf '   %s\n' "$f"
    (cd "$keep" && "$nvcc" "${flags[@]}" -x cu -c "$src/$f" -o "$keep/obj.o" -keep -keep-dir "$keep" >"$keep/log" 2>&1) ||
      { cat "$keep/log"; echo "nvcc failed on $side $f"; exit 1; }
  done
}

# Kernels in an unnamed namespace carry an id nvcc derives from the source's
# path (_GLOBAL__N__<8 hex>_...): the same kernel built from two checkouts
# differs there only.
unnamed='s/_GLOBAL__N__[0-9a-f]\{8\}_/_GLOBAL__N__*_/g'

# index SIDE: "arch<TAB>kernels<TAB>file<TAB>path" per cubin and PTX of SIDE.
index() {
  local side=$1
  for keep in "$out/$side"/keep/*/; do
    local file
    file=$(basename "$keep" | tr + /)
    for cubin in "$keep"*.cubin; do
      local arch=${cubin%.cubin} kernels
      arch=${arch##*.compute_}
      kernels=$(node "$root/scripts/cubin-sections.mjs" "$cubin" --symbols | sed "$unnamed" | sort | tr '\n' ' ')
      printf 'sm_%s\t%s\t%s\t%s\n' "$arch" "$kernels" "$file" "$cubin"
    done
    for ptx in "$keep"*.compute_90.ptx; do
      local kernels
      kernels=$(grep -oE '\.entry [A-Za-z0-9_]+' "$ptx" | sed "$unnamed" | sort | tr '\n' ' ')
      printf 'ptx_90\t%s\t%s\t%s\n' "$kernels" "$file" "$ptx"
    done
  done | sort
}

# PTX's instruction multiset, registers abstracted (opcodes, immediates and symbols kept).
ptx_ops() {
  sed -e 's://.*$::' "$1" | grep -E '^\s+[a-z@]' | sed -E 's/%[a-z]+[0-9]+/R/g; s/\$L__BB[0-9_]+/L/g; s/^\s+//; s/\s+/ /g' |
    sort | uniq -c
}

# PTX with comments dropped and each function's registers renumbered in order of first use.
normalize_ptx() {
  sed -e 's://.*$::' -e '/^\s*$/d' "$1" | awk '
    /^\.(visible |weak )?\.?(entry|func)/ { delete seen; for (k in next_id) delete next_id[k] }
    { line = $0; outl = ""
      while (match(line, /%[a-z]+[0-9]+/)) {
        reg = substr(line, RSTART, RLENGTH); cls = reg; sub(/[0-9]+$/, "", cls)
        if (!(reg in seen)) seen[reg] = cls "#" (next_id[cls]++)
        outl = outl substr(line, 1, RSTART - 1) seen[reg]; line = substr(line, RSTART + RLENGTH) }
      print outl line }'
}

# A cubin's sections (names with the unnamed-namespace id blanked) and their
# hashes, less the symbol and string tables, which hold that id.
sections() {
  node "$root/scripts/cubin-sections.mjs" "$1" | sed "$unnamed" | grep -vE '^\.(strtab|shstrtab|symtab) ' | sort
}

build base "$base"
build head "$head"
index base >"$out/base.tsv"
index head >"$out/head.tsv"

echo
echo "== per instance (base file → head file: verdict)"
status=0
while IFS=$'\t' read -r arch kernels file path; do
  match=$(awk -F'\t' -v a="$arch" -v k="$kernels" '$1 == a && $2 == k { print $3 "\t" $4; exit }' "$out/head.tsv")
  if [ -z "$match" ]; then
    printf '%-7s %s: no head instance defines the same kernels\n' "$arch" "$file"
    status=1
    continue
  fi
  hfile=${match%%$'\t'*}
  hpath=${match#*$'\t'}
  if cmp -s "$path" "$hpath"; then
    verdict=identical
  elif [ "$arch" = ptx_90 ] && cmp -s <(sed "$unnamed" "$path") <(sed "$unnamed" "$hpath"); then
    verdict="identical but for the unnamed-namespace id"
  elif [ "$arch" != ptx_90 ] && cmp -s <(sections "$path") <(sections "$hpath"); then
    verdict="identical but for the unnamed-namespace id (every code and data section equal)"
  elif [ "$arch" = ptx_90 ]; then
    if cmp -s <(normalize_ptx "$path") <(normalize_ptx "$hpath"); then
      verdict="same modulo register numbering"
    else
      lines=$( (diff <(normalize_ptx "$path") <(normalize_ptx "$hpath") || true) | grep -c '^[<>]' || true)
      ops=$( (diff <(ptx_ops "$path") <(ptx_ops "$hpath") || true) | grep '^[<>]' | sed -E 's/^[<>] +//' | awk '{ $1 = ""; print }' | sort -u | tr '\n' ';' || true)
      verdict="DIFFERENT ($lines normalized lines; instruction counts that differ:${ops:- none})"
      status=1
    fi
  else
    verdict="DIFFERENT: $( (diff <(node "$root/scripts/cubin-sections.mjs" "$path") <(node "$root/scripts/cubin-sections.mjs" "$hpath") || true) |
      awk '/^[<>]/ { sub(/\._ZN.*/, ".<kernel>", $2); print $2 }' | sort -u | tr '\n' ' ')"
    status=1
  fi
  [ "$file" = "$hfile" ] && shown=$file || shown="$file → $hfile"
  printf '%-7s %s: %s\n' "$arch" "$shown" "$verdict"
done <"$out/base.tsv"
echo
echo "outputs: $out (base.tsv, head.tsv, */keep/<file>/*.cubin and *.ptx)"
exit $status
