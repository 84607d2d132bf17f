# shellcheck shell=bash
# Shared helpers for the engine scripts in this folder and for .ci/run.
#
# Usage: source this file from bash. It defines functions and variables only.
#
# Environment:
#   REGCTL_STATE_DIR      folder for daemon logs and pid files
#                         (default: /tmp/regctl-engines)
#   REGCTL_PODMAN_SOCKET  socket of the Podman API service
#                         (default: /run/podman/podman.sock, the path the
#                         product and the tests expect for rootful Podman)

REGCTL_STATE_DIR="${REGCTL_STATE_DIR:-/tmp/regctl-engines}"

DOCKER_SOCKET=/var/run/docker.sock
PODMAN_SOCKET="${REGCTL_PODMAN_SOCKET:-/run/podman/podman.sock}"

# Point the docker CLI at the local daemon even when the caller's environment
# or docker context names another one.
export DOCKER_HOST="unix://${DOCKER_SOCKET}"

log() {
    printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
}

die() {
    log "ERROR: $*"
    exit 1
}

require_root() {
    if [[ ${EUID} -ne 0 ]]; then
        die "$(basename "$0") must run as root because it manages rootful engines"
    fi
}

# Succeeds when dockerd responds on DOCKER_SOCKET. `docker version` exits
# non-zero when it cannot fill in its Server section.
docker_is_up() {
    command -v docker >/dev/null 2>&1 &&
        docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# Succeeds when the Podman API service returns "OK" from its ping endpoint.
podman_is_up() {
    local reply
    reply="$(curl --silent --max-time 5 --unix-socket "${PODMAN_SOCKET}" \
        http://d/_ping 2>/dev/null)" || return 1
    [[ ${reply} == "OK" ]]
}

# wait_until SECONDS COMMAND [ARGS...]
# Runs COMMAND once a second until it succeeds. Returns 1 after SECONDS.
wait_until() {
    local timeout_seconds="$1"
    shift
    local deadline=$((SECONDS + timeout_seconds))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 1
    done
}

# Prints the last lines of a daemon log, for failure messages.
show_log_tail() {
    local log_file="$1"
    log "last 40 lines of ${log_file}:"
    tail -n 40 "${log_file}" >&2 || true
}
