#!/usr/bin/env bash
# Start dockerd in the background on /var/run/docker.sock and wait until it
# responds.
#
# Usage: sudo scripts/engines/start-docker.sh
#
# Does nothing when a daemon already responds on that socket. The daemon log
# goes to $REGCTL_STATE_DIR/dockerd.log (default /tmp/regctl-engines), and
# the pid of a daemon this script started to $REGCTL_STATE_DIR/dockerd.pid.
#
# Environment:
#   REGCTL_ENGINE_TIMEOUT  seconds to wait for the daemon (default 60)
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout_seconds="${REGCTL_ENGINE_TIMEOUT:-60}"
log_file="${REGCTL_STATE_DIR}/dockerd.log"
pid_file="${REGCTL_STATE_DIR}/dockerd.pid"

require_root
command -v dockerd >/dev/null || die "dockerd not found; run scripts/engines/install.sh first"

if docker_is_up; then
    log "docker already running (server $(docker version --format '{{.Server.Version}}'))"
    exit 0
fi

mkdir -p "${REGCTL_STATE_DIR}"

# A dockerd that is still starting (for example one launched by another
# script a moment ago) has written /var/run/docker.pid, and a second one would
# exit with an error. Wait for that one instead. Daemons with another
# --pidfile (such as one in a chroot) are not ours to wait for.
existing_pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
if [[ -n ${existing_pid} ]] && kill -0 "${existing_pid}" 2>/dev/null; then
    log "dockerd (pid ${existing_pid}) does not respond yet; waiting up to ${timeout_seconds}s"
    wait_until "${timeout_seconds}" docker_is_up ||
        die "the running dockerd did not respond on ${DOCKER_SOCKET} within ${timeout_seconds}s"
    log "docker is up (server $(docker version --format '{{.Server.Version}}'))"
    exit 0
fi

log "starting dockerd (log: ${log_file})"
# setsid puts the daemon in its own session, so it keeps running when the
# caller's process group or terminal goes away. It does not fork here, so
# $! is the daemon's pid.
setsid dockerd --host "unix://${DOCKER_SOCKET}" </dev/null >>"${log_file}" 2>&1 &
daemon_pid=$!
echo "${daemon_pid}" >"${pid_file}"

daemon_responds_or_exited() {
    docker_is_up || ! kill -0 "${daemon_pid}" 2>/dev/null
}

if ! wait_until "${timeout_seconds}" daemon_responds_or_exited || ! docker_is_up; then
    show_log_tail "${log_file}"
    if kill -0 "${daemon_pid}" 2>/dev/null; then
        die "dockerd (pid ${daemon_pid}) did not respond on ${DOCKER_SOCKET} within ${timeout_seconds}s"
    fi
    rm -f "${pid_file}"
    die "dockerd exited during startup; see ${log_file}"
fi

log "docker is up (server $(docker version --format '{{.Server.Version}}'), pid ${daemon_pid})"
