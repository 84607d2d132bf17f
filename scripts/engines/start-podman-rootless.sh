#!/usr/bin/env bash
# Set up the user regctl-rootless and start the host's Podman as that user,
# rootless, on $XDG_RUNTIME_DIR/podman/podman.sock with XDG_RUNTIME_DIR
# /run/user/UID: the socket a developer's rootless Podman has.
#
# Usage: sudo scripts/engines/start-podman-rootless.sh
#
# Does nothing when a service already responds on that socket. The service
# log goes to $REGCTL_STATE_DIR/podman-rootless.log and the pid of a service
# this script started to $REGCTL_STATE_DIR/podman-rootless.pid.
#
# Environment:
#   REGCTL_ENGINE_TIMEOUT  seconds to wait for the service (default 60)
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout_seconds="${REGCTL_ENGINE_TIMEOUT:-60}"
log_file="${REGCTL_STATE_DIR}/podman-rootless.log"
pid_file="${REGCTL_STATE_DIR}/podman-rootless.pid"

# The settings start-podman.sh writes for rootful Podman, for the same
# reasons. cgroupfs and the file events log, because the user has no systemd
# session here.
CONTAINERS_CONF='# Written by regctl scripts/engines/start-podman-rootless.sh.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
'

# Size of the subordinate ID ranges a new user gets, as useradd gives.
SUBID_COUNT=65536

require_root
command -v podman >/dev/null || die "podman not found; run scripts/engines/install.sh first"
command -v newuidmap >/dev/null || die "newuidmap not found; run scripts/engines/install.sh first"

create_user() {
    if ! id -u "${ROOTLESS_USER}" >/dev/null 2>&1; then
        useradd --create-home --shell /usr/sbin/nologin \
            --comment "regctl rootless Podman tests" "${ROOTLESS_USER}"
        log "created user ${ROOTLESS_USER}"
    fi
    add_subids /etc/subuid --add-subuids
    add_subids /etc/subgid --add-subgids
}

# add_subids FILE USERMOD_FLAG: gives the user a range of subordinate IDs
# after every range in FILE, unless it has one. useradd adds one on Debian,
# but not when /etc/login.defs turns that off.
add_subids() {
    local file="$1" flag="$2" first
    if grep -q "^${ROOTLESS_USER}:" "${file}" 2>/dev/null; then
        return 0
    fi
    first="$(awk -F: 'BEGIN { end = 100000 } $2 + $3 > end { end = $2 + $3 } END { print end }' \
        "${file}" 2>/dev/null || echo 100000)"
    usermod "${flag}" "${first}-$((first + SUBID_COUNT - 1))" "${ROOTLESS_USER}"
    log "gave ${ROOTLESS_USER} the IDs ${first}-$((first + SUBID_COUNT - 1)) in ${file}"
}

write_user_config() {
    local home="$1" config_dir="$1/.config/containers"
    install -d -o "${ROOTLESS_USER}" -g "${ROOTLESS_USER}" "${home}/.config" "${config_dir}"
    printf '%s' "${CONTAINERS_CONF}" >"${config_dir}/containers.conf"
    chown "${ROOTLESS_USER}:" "${config_dir}/containers.conf"
}

create_user
uid="$(id -u "${ROOTLESS_USER}")"
home="$(rootless_home)"
runtime_dir="$(rootless_runtime_dir "${uid}")"
socket="${runtime_dir}/podman/podman.sock"

write_user_config "${home}"

# slirp4netns, the network of rootless Podman 4.3, opens /dev/net/tun as the
# user. Distributions ship it as 0666; this kind of machine has 0600.
if [[ "$(stat -c %a /dev/net/tun)" != 666 ]]; then
    chmod 0666 /dev/net/tun
    log "made /dev/net/tun usable by non-root users (mode 0666)"
fi

# pam_systemd creates this folder at login on a desktop; here nothing does.
install -d -m 0700 -o "${ROOTLESS_USER}" -g "${ROOTLESS_USER}" "${runtime_dir}"

if podman_rootless_is_up; then
    log "rootless podman already running on ${socket}"
    exit 0
fi

mkdir -p "${REGCTL_STATE_DIR}"
rm -f "${socket}"

# setpriv, unlike runuser, replaces itself with the command, so the pid file
# names the service. env -i keeps root's variables, such as CONTAINER_HOST,
# away from the service.
start_background "rootless podman" "${log_file}" "${pid_file}" "${timeout_seconds}" \
    podman_rootless_is_up \
    setpriv --reuid="${uid}" --regid="$(id -g "${ROOTLESS_USER}")" --init-groups \
    env -i "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=${home}" "USER=${ROOTLESS_USER}" \
    "XDG_RUNTIME_DIR=${runtime_dir}" \
    podman system service --time=0

log "rootless podman is up on ${socket} as ${ROOTLESS_USER} (uid ${uid})"
