#!/usr/bin/env bash
# The README's test command: installs missing packages, builds, runs the whole
# test suite, then runs it again under valgrind (leak check). Prints one
# closing line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh

build=${SEQNN_BUILD_DIR:-build}
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" --buildtype=debugoptimized
fi
ninja -C "$build"

status=0
meson test -C "$build" --num-processes 2 --print-errorlogs || status=1
cp "$build/meson-logs/testlog.json" "$build/meson-logs/testlog-plain.json"
if [[ ${SEQNN_SKIP_VALGRIND:-0} != 1 ]]; then
  meson test -C "$build" --setup=valgrind --num-processes 2 --print-errorlogs \
    --no-suite slow-under-valgrind || status=1
  cp "$build/meson-logs/testlog-valgrind.json" "$build/meson-logs/testlog-valgrind-run.json" 2>/dev/null || true
fi

# One closing line over both runs, counted from meson's JSON logs.
python3 - "$build" <<'PY'
import json, sys, glob, os
b = sys.argv[1]
logs = [os.path.join(b, 'meson-logs', 'testlog-plain.json')]
v = os.path.join(b, 'meson-logs', 'testlog-valgrind.json')
if os.path.exists(v) and os.environ.get('SEQNN_SKIP_VALGRIND') != '1':
    logs.append(v)
p = f = s = 0
for log in logs:
    for line in open(log):
        r = json.loads(line).get('result')
        if r in ('OK', 'EXPECTEDFAIL'): p += 1
        elif r == 'SKIP': s += 1
        else: f += 1
print(f"{p} passed, {f} failed, {s} skipped")
PY
exit $status
