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
#   REGCTL_CHROOT_DIR     Debian 13 (trixie) root filesystem that Docker 26
#                         and Podman 5 run from (default:
#                         /var/cache/regctl/trixie)
#
# The end-to-end tests (tests/e2e/harness.rs) expect the sockets and the
# rootless user below at exactly these paths and names.

REGCTL_STATE_DIR="${REGCTL_STATE_DIR:-/tmp/regctl-engines}"

DOCKER_SOCKET=/var/run/docker.sock
PODMAN_SOCKET="${REGCTL_PODMAN_SOCKET:-/run/podman/podman.sock}"

REGCTL_CHROOT_DIR="${REGCTL_CHROOT_DIR:-/var/cache/regctl/trixie}"
# A host folder that is also mounted at the same path inside the chroot, so
# the API sockets of the engines there are reachable from the host.
SOCKET_DIR=/run/regctl
DOCKER26_SOCKET="${SOCKET_DIR}/docker26.sock"
# The bridge of Docker 26's default network, apart from the host's docker0.
# shellcheck disable=SC2034 # used by the scripts that source this file
DOCKER26_BRIDGE=regctl-d26br0
PODMAN5_SOCKET="${SOCKET_DIR}/podman5.sock"

# The non-root user that runs rootless Podman. Its socket is
# $XDG_RUNTIME_DIR/podman/podman.sock, the path regctl's discovery tries.
ROOTLESS_USER=regctl-rootless

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

# Succeeds when the Docker daemon of the chroot responds on DOCKER26_SOCKET.
docker26_is_up() {
    api_responds "${DOCKER26_SOCKET}"
}

# Succeeds when the Podman 5 service of the chroot responds on PODMAN5_SOCKET.
podman5_is_up() {
    api_responds "${PODMAN5_SOCKET}"
}

# Succeeds when the rootless Podman service responds on its socket.
podman_rootless_is_up() {
    local uid
    uid="$(id -u "${ROOTLESS_USER}" 2>/dev/null)" || return 1
    api_responds "$(rootless_runtime_dir "${uid}")/podman/podman.sock"
}

# api_responds SOCKET: succeeds when GET /_ping on SOCKET returns "OK", which
# both Docker and Podman send.
api_responds() {
    local reply
    reply="$(curl --silent --max-time 5 --unix-socket "$1" http://d/_ping 2>/dev/null)" || return 1
    [[ ${reply} == "OK" ]]
}

# rootless_runtime_dir UID: the XDG_RUNTIME_DIR of the rootless user, where
# pam_systemd would put it on a desktop.
rootless_runtime_dir() {
    echo "/run/user/$1"
}

# engine_cli ENGINE: sets the array ENGINE_CLI to the command line of the
# CLI that manages ENGINE (docker, docker26, podman, podman-rootless or
# podman5). Returns 1 for an unknown name.
# shellcheck disable=SC2034 # ENGINE_CLI is the result, read by the caller
engine_cli() {
    local uid
    case "$1" in
    docker) ENGINE_CLI=(docker) ;;
    docker26) ENGINE_CLI=(docker --host "unix://${DOCKER26_SOCKET}") ;;
    podman) ENGINE_CLI=(podman) ;;
    podman-rootless)
        uid="$(id -u "${ROOTLESS_USER}")" || return 1
        # runuser keeps root's HOME, and rootless Podman keeps its storage
        # and configuration under HOME.
        ENGINE_CLI=(runuser -u "${ROOTLESS_USER}" -- env "HOME=$(rootless_home)"
            "XDG_RUNTIME_DIR=$(rootless_runtime_dir "${uid}")" podman)
        ;;
    # The Podman 5 CLI of the chroot, so the checks use the same version as
    # the service. It shares the service's image and container storage.
    podman5) ENGINE_CLI=(chroot "${REGCTL_CHROOT_DIR}" env PODMAN_IGNORE_CGROUPSV1_WARNING=1 podman) ;;
    *) return 1 ;;
    esac
}

rootless_home() {
    getent passwd "${ROOTLESS_USER}" | cut -d: -f6
}

# engine_is_up ENGINE: succeeds when ENGINE's API responds.
engine_is_up() {
    case "$1" in
    docker) docker_is_up ;;
    docker26) docker26_is_up ;;
    podman) podman_is_up ;;
    podman-rootless) podman_rootless_is_up ;;
    podman5) podman5_is_up ;;
    *) return 1 ;;
    esac
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

# start_background NAME LOG_FILE PID_FILE TIMEOUT READY_CHECK COMMAND [ARGS...]
# Starts COMMAND in its own session with its output appended to LOG_FILE,
# writes its pid to PID_FILE and waits until READY_CHECK succeeds. Fails with
# the log tail when COMMAND exits first or TIMEOUT seconds pass.
start_background() {
    local name="$1" log_file="$2" pid_file="$3" timeout_seconds="$4" ready_check="$5"
    shift 5
    local pid deadline=$((SECONDS + timeout_seconds))

    log "starting ${name} (log: ${log_file})"
    # setsid keeps the daemon running when the caller's process group ends.
    # It does not fork here, and neither do chroot, env and setpriv, so $! is
    # the daemon's pid.
    setsid "$@" </dev/null >>"${log_file}" 2>&1 &
    pid=$!
    echo "${pid}" >"${pid_file}"

    until "${ready_check}"; do
        if ! kill -0 "${pid}" 2>/dev/null; then
            show_log_tail "${log_file}"
            rm -f "${pid_file}"
            die "${name} exited during startup; see ${log_file}"
        fi
        if ((SECONDS >= deadline)); then
            show_log_tail "${log_file}"
            die "${name} (pid ${pid}) did not respond within ${timeout_seconds}s"
        fi
        sleep 1
    done
    log "${name} is up (pid ${pid})"
}

# stop_pid NAME PID_FILE: sends SIGTERM to the process in PID_FILE, waits up
# to 60 s for it to exit, then sends SIGKILL. Does nothing without the file.
stop_pid() {
    local name="$1" pid_file="$2" pid waited=0
    pid="$(cat "${pid_file}" 2>/dev/null)" || return 0
    rm -f "${pid_file}"
    kill -0 "${pid}" 2>/dev/null || return 0

    log "stopping ${name} (pid ${pid})"
    kill -TERM "${pid}" 2>/dev/null || return 0
    while kill -0 "${pid}" 2>/dev/null && ((waited < 60)); do
        sleep 1
        waited=$((waited + 1))
    done
    if kill -0 "${pid}" 2>/dev/null; then
        log "WARNING: ${name} (pid ${pid}) still runs after 60s; sending SIGKILL"
        kill -KILL "${pid}" 2>/dev/null || true
    fi
}

# stop_process_group NAME PID_FILE: like stop_pid, for the whole process
# group of the process in PID_FILE. start_background made that process a
# process group leader, so its pid is the group id. Rootless Podman needs
# this: its first process re-executes Podman in a user namespace and exits
# on SIGTERM, while the service that listens keeps running.
stop_process_group() {
    local name="$1" pid_file="$2" group waited=0
    group="$(cat "${pid_file}" 2>/dev/null)" || return 0
    rm -f "${pid_file}"
    pgrep -g "${group}" >/dev/null || return 0

    log "stopping ${name} (process group ${group})"
    kill -TERM -- "-${group}" 2>/dev/null || return 0
    while pgrep -g "${group}" >/dev/null && ((waited < 60)); do
        sleep 1
        waited=$((waited + 1))
    done
    if pgrep -g "${group}" >/dev/null; then
        log "WARNING: ${name} (process group ${group}) still runs after 60s; sending SIGKILL"
        kill -KILL -- "-${group}" 2>/dev/null || true
    fi
}

# Prints the last lines of a daemon log, for failure messages.
show_log_tail() {
    local log_file="$1"
    log "last 40 lines of ${log_file}:"
    tail -n 40 "${log_file}" >&2 || true
}
