#!/bin/bash
# A/B of two pocflow versions on one synthetic workspace, alternating runs in fresh copies:
#   bash bench/ab.sh BASE_SRC TEMPLATE [ROUNDS]
# BASE_SRC: the `src` folder of the other version (a `git worktree add /tmp/base <commit>`
# gives /tmp/base/src); TEMPLATE: a synthetic workspace before its first run
# (`python -c "import sys; sys.path.insert(0, 'bench'); from pathlib import Path; from workspace import make_workspace; make_workspace(Path('/tmp/c100t'), 100)"`).
# Runs: cold, no-op, one step's script edited (a line added each time), fresh clone.
# Prints one line per run: kind, version, seconds.
set -u
BASE=$1; TEMPLATE=$2; ROUNDS=${3:-3}
PY=${PYTHON:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
WORK=$(mktemp -d)
unset PYTHONDONTWRITEBYTECODE  # as users' runs: Python keeps the bytecode it compiles
run() { local v=$1; shift; if [ "$v" = base ]; then PYTHONPATH=$BASE "$PY" -m doit "$@"; else "$PY" -m doit "$@"; fi >/dev/null 2>&1; }
timed() { local s; s=$(date +%s.%N); run "$@"; echo "$(date +%s.%N) - $s" | bc; }
for _ in $(seq "$ROUNDS"); do for v in base new; do
  rm -rf "$WORK/$v"; cp -a "$TEMPLATE" "$WORK/$v"; cd "$WORK/$v" || exit 1
  echo "cold $v $(timed $v poc-complete)"
done; done
for _ in $(seq $((ROUNDS * 2 + 1))); do for v in base new; do
  cd "$WORK/$v" || exit 1; echo "noop $v $(timed $v poc-complete)"
done; done
for i in $(seq $((ROUNDS + 2))); do for v in base new; do
  cd "$WORK/$v" || exit 1; echo "# edit $i" >> PoC/step1_work.py
  echo "edit $v $(timed $v poc-complete)"
done; done
for _ in $(seq $((ROUNDS + 2))); do for v in base new; do
  rm -rf "$WORK/fresh"; cp -a "$WORK/$v" "$WORK/fresh"; rm -rf "$WORK/fresh/.pocflow"
  cd "$WORK/fresh" || exit 1; echo "fresh $v $(timed $v poc-complete)"
done; done
rm -rf "$WORK"
