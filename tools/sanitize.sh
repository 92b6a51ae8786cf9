#!/usr/bin/env bash
# The suite under AddressSanitizer + UndefinedBehaviorSanitizer (clang, every
# report fatal), then each libFuzzer harness of tests/fuzz for a while.
# Usage: tools/sanitize.sh [--seconds N] [--no-suite] [HARNESS...]
#   --seconds N  fuzzing time per harness (default 30; 0: none)
#   --no-suite   only fuzz
#   HARNESS      tokenizer records modelfile vectors labels (default: all)
# Build folder: $SEQNN_ASAN_BUILD_DIR (default build-asan). New corpus inputs
# go to BUILD/fuzz-corpus/HARNESS, findings to BUILD/fuzz-artifacts/, each run's
# log to BUILD/fuzz-logs/. Exits non-zero when a test fails or a harness finds
# something (the reproducer is named in the printed log tail).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
suite=1
harnesses=()
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --no-suite) suite=0; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
((${#harnesses[@]})) || harnesses=(tokenizer records modelfile vectors labels)

bash tools/deps.sh --fuzz
build=${SEQNN_ASAN_BUILD_DIR:-build-asan}
if [[ ! -f $build/build.ninja ]]; then
  CC=clang-14 meson setup "$build" --buildtype=debugoptimized -Dfuzzing=enabled \
    -Dintrospection=disabled -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all
fi
ninja -C "$build"

# allocator_may_return_null: tests of g_try_* allocations under RLIMIT_AS
# expect NULL, not ASan's out-of-memory abort.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
status=0

if ((suite)); then
  # Plugins load into the instrumented test process, not gst-plugin-scanner.
  export GST_REGISTRY_FORK=no
  # Python cannot load instrumented libraries (the ASan runtime must come
  # first), so gi-python, the examples and the pipeline suite (gst-launch-1.0
  # from Python) run in tools/test.sh only.
  # Building the registry in-process grows GLib's quark table, whose first
  # block GLib drops on purpose: build it first, without the leak check
  # (gst-inspect-1.0 with the ASan runtime preloaded, as it is not instrumented).
  GST_REGISTRY_1_0=$build/tests/gst-registry.bin GST_PLUGIN_PATH_1_0=$build/gst \
    LD_PRELOAD=$(clang-14 -print-file-name=libclang_rt.asan-x86_64.so) \
    ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 gst-inspect-1.0 seqnn > /dev/null
  mapfile -t tests < <(meson test -C "$build" --list --suite engine --suite text --suite modelfile \
      --suite train --suite gst --suite fuzz 2>/dev/null | grep -v ' / gi-python$' | sed 's|^.* / ||')
  meson test -C "$build" --num-processes 2 --print-errorlogs "${tests[@]}" || status=1
fi

if ((seconds > 0)); then
  mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
  for h in "${harnesses[@]}"; do
    corpus=$build/fuzz-corpus/$h
    log=$build/fuzz-logs/$h.log
    mkdir -p "$corpus"
    # The first folder gets the new inputs; the committed seeds stay as they are.
    if "$build/tests/fuzz/fuzz-$h" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
        -dict="tests/fuzz/$h.dict" -artifact_prefix="$build/fuzz-artifacts/$h-" \
        "$corpus" "tests/fuzz/corpus/$h" > "$log" 2>&1; then
      runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
      cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
      echo "fuzz-$h: ${seconds} s, ${runs:-?} executions, ${cov:-cov: ?}, nothing found"
    else
      status=1
      echo "fuzz-$h: FOUND SOMETHING (log $log):"
      tail -n 60 "$log"
    fi
  done
fi
exit $status
