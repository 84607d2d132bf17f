#!/usr/bin/env bash
# Stop engines that the start scripts of this folder started, and unmount
# the chroot.
#
# Usage: sudo scripts/engines/stop-engines.sh [docker26] [podman5] [podman-rootless] [chroot]
#
# Each engine is stopped through the pid file its start script wrote in
# $REGCTL_STATE_DIR, so an engine started by other means is left alone.
# Containers keep running only where the engine leaves them: dockerd stops
# its containers on exit, Podman does not, so remove Podman containers first.
# chroot unmounts $REGCTL_CHROOT_DIR and everything below it, and keeps the
# tree for the next setup-chroot.sh. The host's Docker and rootful Podman are
# never stopped here.
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root

# Rootless Podman keeps a pause process that keeps the user namespace alive after
# the service exits. Its pid file is in the user's runtime folder.
stop_rootless_pause_process() {
    local uid pause_pid_file
    uid="$(id -u "${ROOTLESS_USER}" 2>/dev/null)" || return 0
    pause_pid_file="$(rootless_runtime_dir "${uid}")/libpod/tmp/pause.pid"
    [[ -f ${pause_pid_file} ]] || return 0
    cp "${pause_pid_file}" "${REGCTL_STATE_DIR}/podman-rootless-pause.pid"
    stop_pid "rootless podman pause process" "${REGCTL_STATE_DIR}/podman-rootless-pause.pid"
}

unmount_chroot() {
    if ! mountpoint -q "${REGCTL_CHROOT_DIR}"; then
        return 0
    fi
    # The engines of the chroot must be gone first, or umount reports busy.
    if umount -R "${REGCTL_CHROOT_DIR}"; then
        log "unmounted ${REGCTL_CHROOT_DIR}"
    else
        log "WARNING: ${REGCTL_CHROOT_DIR} is still in use; stop docker26 and podman5 first"
        return 1
    fi
}

for argument in "$@"; do
    case "${argument}" in
    docker26)
        stop_pid docker26 "${REGCTL_STATE_DIR}/docker26.pid"
        # start-docker26.sh creates the bridge, and no other daemon uses it.
        if ! docker26_is_up && ip link show "${DOCKER26_BRIDGE}" >/dev/null 2>&1; then
            ip link delete "${DOCKER26_BRIDGE}"
            log "deleted bridge ${DOCKER26_BRIDGE}"
        fi
        ;;
    podman5) stop_pid podman5 "${REGCTL_STATE_DIR}/podman5.pid" ;;
    podman-rootless)
        stop_process_group "rootless podman" "${REGCTL_STATE_DIR}/podman-rootless.pid"
        stop_rootless_pause_process
        ;;
    chroot) unmount_chroot ;;
    *) die "invalid argument '${argument}': expected docker26, podman5, podman-rootless or chroot" ;;
    esac
done
