#!/bin/bash
# compare.sh — gptladder against PyTorch, side by side, median of N rounds.
#
#   bash bench/compare.sh [rounds=5] [threads="1 2"]
#
# Each round runs build/bench and bench/torch_bench.py one after the other for
# every thread count, so both see the same machine load; the table gives each
# side's median tokens/s and the ratio of the medians. Needs `make build/bench`
# and Debian's python3-torch with libopenblas0-pthread (see torch_bench.py).
# A measurement tool only: no test runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
threads=${2:-1 2}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
[ -x build/bench ] || make --no-print-directory build/bench >/dev/null
for r in $(seq "$rounds"); do
  for t in $threads; do
    ./build/bench --threads "$t" --no-sample | sed 's/$/ impl=gptladder/' >>"$log"
    # PyTorch's best settings here (measured): passive OpenMP, OpenBLAS threads = threads
    OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS="$t" /usr/bin/python3 bench/torch_bench.py --threads "$t" >>"$log"
  done
  echo "round $r of $rounds done" >&2
done
# median of the tokens_per_s field per (impl, config, threads)
awk '
  /^bench config=/ {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    key = f["config"] " " f["threads"]; impl = f["impl"]
    n[impl, key]++; v[impl, key, n[impl, key]] = f["tokens_per_s"]; keys[key] = 1
  }
  function median(impl, key,   m, i, j, t, a) {
    m = n[impl, key]
    for (i = 1; i <= m; i++) a[i] = v[impl, key, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    printf "%-7s %-8s %16s %16s %7s\n", "config", "threads", "gptladder tok/s", "pytorch tok/s", "ratio"
    for (key in keys) {
      split(key, k, " ")
      g = median("gptladder", key); p = median("pytorch", key)
      printf "%-7s %-8s %16.0f %16.0f %7.2f\n", k[1], k[2], g, p, g / p
    }
  }' "$log" | (read -r header; echo "$header"; sort)
