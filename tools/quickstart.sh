#!/usr/bin/env bash
# The README's first command: installs missing Debian packages, builds, and
# classifies the bundled sample subtitle file with the shipped AG News model,
# printing each cue's time, topic and confidence.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
build=$(realpath -m "${SEQNN_BUILD_DIR:-build}")
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" --buildtype=debugoptimized >/dev/null
fi
ninja -C "$build" >/dev/null
SEQNN_BUILD_DIR=$build bash pipelines/classify-subtitles.sh data/sample-news.srt "${1:-models/agnews.model}"
