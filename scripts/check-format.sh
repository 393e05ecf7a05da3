#!/usr/bin/env bash
# The formatters' check: clang-format (.clang-format) on the C++ / CUDA
# sources and prettier (.prettierrc.json, pinned in package.json) on the
# TypeScript and JavaScript. The file lists come from git (tracked, and
# untracked but not ignored), so new files are covered; generated and vendored
# files are left out (cuda/*/inst, test/native/simde), as are the X-macro
# lists (*.inc), which clang-format would reflow.
#
#   scripts/check-format.sh          check (exit 1 listing the files to format)
#   scripts/check-format.sh --fix    format them in place
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fix=0
[ "${1:-}" = --fix ] && fix=1
listed() { git ls-files --cached --others --exclude-standard -- "$@" | grep -vE '^cuda/[^/]+/inst/|^test/native/simde/' | sort -u; }
mapfile -t cxx < <(listed '*.cc' '*.h' '*.cu' '*.cuh')
mapfile -t js < <(listed '*.ts' '*.mts' '*.mjs' '*.js')

command -v clang-format >/dev/null || { echo "check-format: clang-format not found (apt-get install clang-format)"; exit 1; }
prettier=node_modules/.bin/prettier
[ -x "$prettier" ] || { echo "check-format: $prettier not found (npm ci)"; exit 1; }

status=0
if [ $fix = 1 ]; then
  clang-format -i --style=file "${cxx[@]}"
  "$prettier" --log-level warn --write "${js[@]}"
  exit 0
fi
bad=()
for f in "${cxx[@]}"; do
  clang-format --style=file --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  printf 'check-format: clang-format would change %d files:\n' ${#bad[@]}
  printf '  %s\n' "${bad[@]}"
  status=1
fi
"$prettier" --log-level warn --check "${js[@]}" || status=1
[ $status = 0 ] && echo "check-format: ${#cxx[@]} C++ / CUDA and ${#js[@]} TS / JS files formatted"
[ $status = 0 ] || echo "check-format: run scripts/check-format.sh --fix (or npm run format)"
exit $status
