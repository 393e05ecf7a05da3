#!/usr/bin/env bash
# Commit subjects of at most 72 characters (measurements and reasons go in
# the body), for every commit after the baseline below: the history before it
# has long subjects and stays as it is.
#
#   scripts/check-commit-subjects.sh [RANGE_END]   (default HEAD)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The baseline moves only when branches older than the rule are merged with
# their history as it was (the merges of i16, i17, i19-i22 did); say so in
# the commit that moves it.
baseline=5e581418fc8dfc897e9d486d056285d2259645cf  # main after those merges
max=72
end=${1:-HEAD}
if ! git cat-file -e "$baseline^{commit}" 2>/dev/null; then
  echo "commit subjects: baseline $baseline is not in this clone's history (shallow?); nothing checked"
  exit 0
fi
bad=0
while IFS= read -r line; do
  sha=${line%% *}
  subject=${line#* }
  n=$(printf '%s' "$subject" | wc -m)
  if [ "$n" -gt $max ]; then
    echo "commit subjects: ${sha:0:10} has $n characters (max $max): $subject"
    bad=$((bad + 1))
  fi
done < <(git log --format='%H %s' "$baseline..$end")
[ $bad = 0 ] && echo "commit subjects: all at most $max characters since ${baseline:0:10}"
[ $bad = 0 ]
