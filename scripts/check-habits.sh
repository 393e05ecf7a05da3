#!/usr/bin/env bash
# The habits CI holds (docs/adding-a-kernel.md), as one stage: the size
# budget (scripts/size-budget.mjs), commit subjects of at most 72 characters
# (scripts/check-commit-subjects.sh) and the formatters
# (scripts/check-format.sh). Installs clang-format with apt where it is
# missing and this runs as root (CI); needs node_modules (npm ci). Every check
# runs; the exit status says whether any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v clang-format >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends clang-format >/dev/null
fi
status=0
node scripts/size-budget.mjs || status=1
scripts/check-commit-subjects.sh || status=1
scripts/check-format.sh || status=1
exit $status
