#!/usr/bin/env bash
# Measures what `regctl create` adds to the engine's own create and start.
#
# Usage: benches/create.sh [docker|podman] [RUNS]
#
# Compares, with hyperfine, on one engine:
#   baseline: `ENGINE run -d -p 127.0.0.1:PORT:5000 IMAGE`, then a curl loop
#             until GET /v2/ returns 200 (what a script would do by hand);
#   regctl:   `regctl create NAME --port PORT`, which also waits for /v2/
#             and /v2/_catalog.
# Each run is followed by a cleanup that removes the container (and for
# regctl its volume), outside the timed part. Needs hyperfine, curl, a
# running engine with the registry image, and a release build of regctl
# (cargo build --release).
set -euo pipefail

engine="${1:-docker}"
runs="${2:-10}"
image=docker.io/library/registry:2
port=5399
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
regctl="${repo_root}/target/release/regctl"

[[ -x ${regctl} ]] || { echo "build first: cargo build --release" >&2; exit 1; }

wait_ready="until curl -fsS -o /dev/null http://127.0.0.1:${port}/v2/; do sleep 0.02; done"

hyperfine --runs "${runs}" --warmup 1 --export-markdown "/tmp/regctl-bench-${engine}.md" \
    --command-name "${engine} run + wait" \
    --prepare "${engine} rm -f -v bench-baseline >/dev/null 2>&1 || true" \
    "${engine} run -d --name bench-baseline -p 127.0.0.1:${port}:5000 ${image} >/dev/null && ${wait_ready}" \
    --command-name "regctl create" \
    --prepare "${regctl} delete bench-regctl --volumes --runtime ${engine} -q >/dev/null 2>&1 || ${engine} rm -f -v bench-baseline >/dev/null 2>&1 || true" \
    "${regctl} create bench-regctl --port ${port} --runtime ${engine} -q >/dev/null"

"${regctl}" delete bench-regctl --volumes --runtime "${engine}" -q >/dev/null 2>&1 || true
"${engine}" rm -f -v bench-baseline >/dev/null 2>&1 || true
echo "results: /tmp/regctl-bench-${engine}.md"
