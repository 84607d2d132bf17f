#!/usr/bin/env bash
# Configure rootful Podman for this kind of machine and start its API service
# on /run/podman/podman.sock.
#
# Usage: sudo scripts/engines/start-podman.sh
#
# Does nothing when a service already responds on that socket. The service log
# goes to $REGCTL_STATE_DIR/podman-service.log (default /tmp/regctl-engines),
# and the pid of a service this script started to
# $REGCTL_STATE_DIR/podman-service.pid.
#
# Environment:
#   REGCTL_ENGINE_TIMEOUT  seconds to wait for the service (default 60)
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout_seconds="${REGCTL_ENGINE_TIMEOUT:-60}"
log_file="${REGCTL_STATE_DIR}/podman-service.log"
pid_file="${REGCTL_STATE_DIR}/podman-service.pid"
containers_conf=/etc/containers/containers.conf

# Two settings make rootful containers start on these machines:
# - crun 1.8 rejects cgroups in hybrid mode, so use runc.
# - Podman 4.3 gives containers a nofile ulimit of 1048576 by default, above
#   the hard limit here (20000), and the runtime's setrlimit call then fails.
#   An empty list keeps the limits the service itself runs with.
CONTAINERS_CONF_CONTENT='# Written by regctl scripts/engines/start-podman.sh.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
'

require_root
command -v podman >/dev/null || die "podman not found; run scripts/engines/install.sh first"
command -v curl >/dev/null || die "curl not found; run scripts/engines/install.sh first"

# Keep an existing file that already has both settings (another script may
# have written it with other comments). Otherwise save it and replace it.
write_containers_conf() {
    if [[ -f ${containers_conf} ]] &&
        grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=[[:space:]]*\[[[:space:]]*\]' "${containers_conf}" &&
        grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "${containers_conf}"; then
        log "${containers_conf} already selects runc and empty default_ulimits"
        return 0
    fi

    if [[ -f ${containers_conf} ]]; then
        cp "${containers_conf}" "${containers_conf}.regctl-backup"
        log "saved the previous ${containers_conf} as ${containers_conf}.regctl-backup"
    fi

    mkdir -p "$(dirname "${containers_conf}")"
    # Write to a temporary file and rename it, so a Podman process that reads
    # the file at this moment never reads half of it.
    printf '%s' "${CONTAINERS_CONF_CONTENT}" >"${containers_conf}.tmp"
    mv "${containers_conf}.tmp" "${containers_conf}"
    log "wrote ${containers_conf}"
    config_changed=true
}

# Prints the pid of a `podman system service` for PODMAN_SOCKET that runs in
# this machine's root filesystem. Services in a chroot show the same socket
# path on their command line but listen elsewhere.
find_host_service_pid() {
    local pid
    for pid in $(pgrep -f "podman system service.*unix://${PODMAN_SOCKET}" || true); do
        if [[ "$(readlink "/proc/${pid}/root" 2>/dev/null)" == "/" ]]; then
            echo "${pid}"
            return 0
        fi
    done
    return 1
}

config_changed=false
write_containers_conf

if podman_is_up; then
    if [[ ${config_changed} == true ]]; then
        # NOTE: the service reads containers.conf at startup, so containers
        # it creates may still use the old runtime or ulimits.
        log "WARNING: the running Podman service started before ${containers_conf} changed; restart it to apply the change"
    fi
    log "podman service already running on ${PODMAN_SOCKET}"
    exit 0
fi

mkdir -p "${REGCTL_STATE_DIR}" "$(dirname "${PODMAN_SOCKET}")"

# A service that is still starting (launched by another script a moment ago)
# does not respond yet. Wait for it instead of starting a second one on the
# same socket.
if existing_pid="$(find_host_service_pid)"; then
    log "podman service (pid ${existing_pid}) does not respond yet; waiting up to ${timeout_seconds}s"
    wait_until "${timeout_seconds}" podman_is_up ||
        die "the running podman service did not respond on ${PODMAN_SOCKET} within ${timeout_seconds}s"
    log "podman service is up on ${PODMAN_SOCKET}"
    exit 0
fi

# No process listens, so a socket file left by a service that was killed is
# stale.
rm -f "${PODMAN_SOCKET}"

log "starting podman system service (log: ${log_file})"
# --time=0 disables the idle timeout, so the service stays up between tests.
# setsid keeps it running after the caller's process group ends. It does not
# fork here, so $! is the service's pid.
setsid podman system service --time=0 "unix://${PODMAN_SOCKET}" </dev/null >>"${log_file}" 2>&1 &
service_pid=$!
echo "${service_pid}" >"${pid_file}"

service_responds_or_exited() {
    podman_is_up || ! kill -0 "${service_pid}" 2>/dev/null
}

if ! wait_until "${timeout_seconds}" service_responds_or_exited || ! podman_is_up; then
    show_log_tail "${log_file}"
    if kill -0 "${service_pid}" 2>/dev/null; then
        die "podman service (pid ${service_pid}) did not respond on ${PODMAN_SOCKET} within ${timeout_seconds}s"
    fi
    rm -f "${pid_file}"
    die "podman service exited during startup; see ${log_file}"
fi

log "podman service is up on ${PODMAN_SOCKET} ($(podman --version), pid ${service_pid})"
