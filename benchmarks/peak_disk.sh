#!/usr/bin/env bash
# The most disk a command takes while it runs: samples `df` (the filesystem of the current folder) — and with
# --du DIR also `du -sm DIR` — every few seconds, then prints the peak over the value at the start and the value
# at the end. Exits with the command's status. Nothing else should write to the disk meanwhile.
#   bash benchmarks/peak_disk.sh [--every SECONDS] [--du DIR] -- COMMAND [ARG...]
#   e.g. d=$(mktemp -d) && git clone -q . "$d" && cd "$d" && \
#        bash benchmarks/peak_disk.sh --du "/tmp/pytest-of-$(id -un)" -- env CI=true bash .ci/run
set -uo pipefail
every=15; dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --every) every="$2"; shift 2 ;;
    --du) dir="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "peak_disk.sh: unknown option $1 (usage: peak_disk.sh [--every S] [--du DIR] -- COMMAND...)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "peak_disk.sh: no command given" >&2; exit 2; }

used() { df --output=used -BM . | tail -n 1 | tr -dc '0-9'; }
dirsize() { local v=""; [ -n "$dir" ] && v=$(du -sm "$dir" 2>/dev/null | cut -f1); echo "${v:-0}"; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(used); dstart=$(dirsize)
( while true; do echo "$(used) $(dirsize)" >> "$log"; sleep "$every"; done ) &
sampler=$!
"$@"
rc=$?
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
echo "$(used) $(dirsize)" >> "$log"
peak=$(cut -d' ' -f1 "$log" | sort -n | tail -n 1); dpeak=$(cut -d' ' -f2 "$log" | sort -n | tail -n 1)
echo "peak_disk: filesystem at most $((peak - start)) MB over its start, $(($(used) - start)) MB at the end ($(wc -l < "$log") samples every ${every} s)" >&2
[ -n "$dir" ] && echo "peak_disk: $dir at most $((dpeak - dstart)) MB over its start, $(($(dirsize) - dstart)) MB at the end" >&2
exit $rc
