#!/usr/bin/env bash
# Start the Podman 5 API service from the Debian 13 chroot (see
# setup-chroot.sh) on /run/regctl/podman5.sock.
#
# Usage: sudo scripts/engines/start-podman5.sh
#
# Does nothing when a service already responds on that socket. The service
# log goes to $REGCTL_STATE_DIR/podman5.log and the pid of a service this
# script started to $REGCTL_STATE_DIR/podman5.pid. setup-chroot.sh writes the
# containers.conf and default network that keep this Podman apart from the
# host's.
#
# Environment:
#   REGCTL_ENGINE_TIMEOUT  seconds to wait for the service (default 60)
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout_seconds="${REGCTL_ENGINE_TIMEOUT:-60}"
log_file="${REGCTL_STATE_DIR}/podman5.log"
pid_file="${REGCTL_STATE_DIR}/podman5.pid"

require_root
[[ -x ${REGCTL_CHROOT_DIR}/usr/bin/podman ]] ||
    die "no podman in ${REGCTL_CHROOT_DIR}; run scripts/engines/setup-chroot.sh first"
mountpoint -q "${REGCTL_CHROOT_DIR}${SOCKET_DIR}" ||
    die "${REGCTL_CHROOT_DIR} is not mounted; run scripts/engines/setup-chroot.sh first"

if podman5_is_up; then
    log "podman5 already running on ${PODMAN5_SOCKET}"
    exit 0
fi

mkdir -p "${REGCTL_STATE_DIR}"
rm -f "${PODMAN5_SOCKET}"

# PODMAN_IGNORE_CGROUPSV1_WARNING: Podman 5 warns on every call on a host
# with cgroups v1, as this kind of machine has. --time=0 disables the idle
# timeout.
start_background podman5 "${log_file}" "${pid_file}" "${timeout_seconds}" podman5_is_up \
    chroot "${REGCTL_CHROOT_DIR}" env PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
    podman system service --time=0 "unix://${PODMAN5_SOCKET}"

engine_cli podman5
log "podman5: $("${ENGINE_CLI[@]}" --version)"
