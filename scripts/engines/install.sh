#!/usr/bin/env bash
# Install Docker, Podman and the tools the end-to-end tests use, from the
# Debian 12 (bookworm) archive. setup-chroot.sh installs the newer engines.
#
# Usage: sudo scripts/engines/install.sh
#
# Safe to run again: apt-get install leaves installed packages alone. When
# every package is already installed, the script skips apt entirely, so a
# reused CI machine does not depend on the mirror being reachable.
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
    docker.io      # dockerd 20.10 and containerd
    podman         # Podman 4.3 and its API service
    runc           # the OCI runtime both engines use here (crun fails on cgroups hybrid mode)
    uidmap         # newuidmap/newgidmap for rootless Podman
    slirp4netns    # network for rootless Podman
    fuse-overlayfs # storage for rootless Podman
    docker-registry # the Distribution registry 2.8 binary the local registry image is built from
    skopeo         # registry client used by the tests
    curl           # health checks against sockets and registries
    debootstrap    # the Debian 13 chroot that Docker 26 and Podman 5 run from
    iproute2       # the bridge of Docker 26's default network
)

require_root

missing=()
for package in "${PACKAGES[@]}"; do
    # dpkg-query prints "install ok installed" only for fully installed packages.
    status="$(dpkg-query --show --showformat='${Status}' "${package}" 2>/dev/null || true)"
    if [[ ${status} != "install ok installed" ]]; then
        missing+=("${package}")
    fi
done

if ((${#missing[@]} == 0)); then
    log "all ${#PACKAGES[@]} packages already installed; skipping apt"
    exit 0
fi

log "installing: ${missing[*]}"

# Never prompt, because CI has no terminal. needrestart (recommended by docker.io)
# would otherwise ask which services to restart.
export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_MODE=a

# apt and dpkg print progress even with -qq, so their output goes to a log
# file that is shown only when a step fails.
mkdir -p "${REGCTL_STATE_DIR}"
apt_log="${REGCTL_STATE_DIR}/apt.log"
: >"${apt_log}"

run_apt() {
    if ! apt-get "$@" </dev/null >>"${apt_log}" 2>&1; then
        show_log_tail "${apt_log}"
        die "apt-get $* failed"
    fi
}

run_apt update -qq
# Recommended packages stay enabled: they bring buildah, tini, apparmor and
# cgroupfs-mount, and the engines were tested with them present.
run_apt install -y -qq "${PACKAGES[@]}"

log "installed: $(dpkg-query --show --showformat='${Package} ${Version}\n' docker.io podman | tr '\n' ' ')"
