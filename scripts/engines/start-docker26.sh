#!/usr/bin/env bash
# Start Docker 26 from the Debian 13 chroot (see setup-chroot.sh) beside the
# host's Docker, on its own socket /run/regctl/docker26.sock.
#
# Usage: sudo scripts/engines/start-docker26.sh
#
# Does nothing when a daemon already responds on that socket. The daemon log
# goes to $REGCTL_STATE_DIR/docker26.log and the pid of a daemon this script
# started to $REGCTL_STATE_DIR/docker26.pid.
#
# Both daemons share the host's network namespace, so this one is set up to
# leave the host daemon's docker0 bridge, iptables chains and subnets alone:
# - its default bridge network uses the bridge regctl-d26br0, which this
#   script creates. With --bridge=none, dockerd deletes any link named
#   docker0 at startup, the host daemon's bridge included.
# - its network store is removed before each start. dockerd 26 deletes the
#   `bridge` network it stored in an earlier run, and when
#   --default-address-pool is set it then deletes the link docker0 too
#   (seen in a network namespace of its own: the second start removed the
#   docker0 there). The store holds only networks, which the tests create
#   and remove again.
# - --iptables=false, because dockerd rebuilds the DOCKER chains at startup
#   and would drop the host daemon's rules. Published ports then go through
#   docker-proxy, which is enough for host addresses such as 127.0.0.1.
# - its networks come from 10.199.0.0/16, apart from the host daemon's
#   172.17.0.0/16 and the pools it takes user networks from.
#
# Environment:
#   REGCTL_ENGINE_TIMEOUT  seconds to wait for the daemon (default 60)
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout_seconds="${REGCTL_ENGINE_TIMEOUT:-60}"
log_file="${REGCTL_STATE_DIR}/docker26.log"
pid_file="${REGCTL_STATE_DIR}/docker26.pid"

BRIDGE="${DOCKER26_BRIDGE}"
BRIDGE_ADDRESS=10.199.0.1/24
ADDRESS_POOL=base=10.199.128.0/17,size=24

require_root
[[ -x ${REGCTL_CHROOT_DIR}/usr/sbin/dockerd ]] ||
    die "no dockerd in ${REGCTL_CHROOT_DIR}; run scripts/engines/setup-chroot.sh first"
mountpoint -q "${REGCTL_CHROOT_DIR}${SOCKET_DIR}" ||
    die "${REGCTL_CHROOT_DIR} is not mounted; run scripts/engines/setup-chroot.sh first"

if docker26_is_up; then
    log "docker26 already running on ${DOCKER26_SOCKET}"
    exit 0
fi

create_bridge() {
    if ! ip link show "${BRIDGE}" >/dev/null 2>&1; then
        ip link add "${BRIDGE}" type bridge
        log "created bridge ${BRIDGE}"
    fi
    if ! ip -4 address show dev "${BRIDGE}" | grep -q "${BRIDGE_ADDRESS%/*}/"; then
        ip address add "${BRIDGE_ADDRESS}" dev "${BRIDGE}"
    fi
    ip link set "${BRIDGE}" up
}

mkdir -p "${REGCTL_STATE_DIR}"
create_bridge

# No process listens, so a socket file left by a daemon that was killed is
# stale, and dockerd would fail to bind.
rm -f "${DOCKER26_SOCKET}"
rm -f "${REGCTL_CHROOT_DIR}/var/lib/docker/network/files/local-kv.db"

# The paths are inside the chroot, apart from the host daemon's. Naming them
# keeps that true if the chroot ever shares a folder with the host.
start_background docker26 "${log_file}" "${pid_file}" "${timeout_seconds}" docker26_is_up \
    chroot "${REGCTL_CHROOT_DIR}" dockerd \
    --host "unix://${DOCKER26_SOCKET}" \
    --data-root /var/lib/docker \
    --exec-root /run/docker \
    --pidfile /run/docker.pid \
    --bridge "${BRIDGE}" \
    --iptables=false \
    --default-address-pool "${ADDRESS_POOL}"

log "docker26: server $(docker --host "unix://${DOCKER26_SOCKET}" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
