#!/usr/bin/env bash
# One-shot setup on Debian: cross toolchains + QEMU (apt), the package into .venv (editable),
# and the QEMU instruction-count plugin. Safe to re-run; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc make python3-venv gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
  qemu-system-misc qemu-user gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf
  gcc-aarch64-linux-gnu libgomp1 clang libclang-rt-14-dev espeak-ng)  # libgomp1: LightGBM; clang + runtime: libFuzzer (board parser test); espeak-ng: KWS clips

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "error: missing Debian packages: ${missing[*]}" >&2
    echo "run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e ".[test,bench]"

make -s -C targets/plugin
echo "setup done: .venv/bin/kiln targets"
