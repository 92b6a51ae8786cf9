#!/usr/bin/env bash
# Installs the Debian 12 packages gst-seqnn needs that are not installed yet.
# Usage: tools/deps.sh [--bench] [--fuzz]   (--bench adds python3-torch and fasttext for the PyTorch
# and fastText references; --fuzz clang with libFuzzer and the sanitizer runtimes for tools/sanitize.sh)
# Sourced or run; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev libjson-glib-dev libopenblas-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  valgrind python3 python3-numpy gnuplot-nox
  gobject-introspection libgirepository1.0-dev python3-gi gir1.2-gstreamer-1.0
)
for arg in "$@"; do
  case $arg in
    --bench) packages+=(python3-torch fasttext) ;;
    --fuzz) packages+=(clang-14 libclang-rt-14-dev llvm-14) ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "Installing missing Debian packages: ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
