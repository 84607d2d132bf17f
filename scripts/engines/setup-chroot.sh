#!/usr/bin/env bash
# Build a Debian 13 (trixie) root filesystem with Docker 26 and Podman 5, and
# mount what the engines in it need. Both engines then run from this chroot
# on the host's kernel: see start-docker26.sh and start-podman5.sh.
#
# Usage: sudo scripts/engines/setup-chroot.sh
#
# The first run takes about a minute (debootstrap took 62 s on a 2-core CI
# machine), longer with a slow mirror. Later runs reuse the finished tree in
# $REGCTL_CHROOT_DIR (default /var/cache/regctl/trixie), install packages
# that were added to PACKAGES since it was built, and add the mounts that
# are missing, so the script is safe to run again. `stop-engines.sh chroot`
# removes the mounts.
#
# Environment:
#   REGCTL_CHROOT_DIR      where the tree lives
#   REGCTL_DEBIAN_MIRROR   Debian mirror (default: the first URIs entry of
#                          /etc/apt/sources.list.d/debian.sources)
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE=trixie
PACKAGES=(
    podman          # Podman 5.4
    aardvark-dns    # DNS on Podman networks; without it, leaving a network fails
    runc            # the runtime containers.conf selects, as on the host
    docker.io       # dockerd 26.1 and containerd
    nftables        # the firewall driver netavark uses here
    iptables        # unused while dockerd has --iptables=false and netavark uses nftables
    ca-certificates # only for pulls, which the tests never make
)
chroot_dir="${REGCTL_CHROOT_DIR}"
# Lists the packages the tree has, so a changed PACKAGES list is noticed.
packages_stamp="${chroot_dir}/etc/regctl-packages"

# Settings for Podman 5 in the chroot. runc and the empty ulimits are needed
# on this kind of machine for the same reasons as in start-podman.sh. The
# network settings keep Podman 5 apart from the host's Podman, which shares
# the network namespace. The subnets differ from its 10.88.0.0/16 and
# 10.89.x.0/24. netavark's nftables driver keeps its rules in a table of its
# own, apart from the NETAVARK chains of the host's netavark.
CONTAINERS_CONF='# Written by regctl scripts/engines/setup-chroot.sh.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
firewall_driver = "nftables"
default_subnet = "10.198.0.0/24"
default_subnet_pools = [{"base" = "10.198.128.0/17", "size" = 24}]
'

# The default network of Podman 5, written ahead so that its bridge has a
# name of its own: netavark would otherwise use podman0, the bridge of the
# host's default Podman network.
DEFAULT_NETWORK_JSON='{
  "name": "podman",
  "id": "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
  "driver": "bridge",
  "network_interface": "regctl-p5br0",
  "subnets": [{"subnet": "10.198.0.0/24", "gateway": "10.198.0.1"}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {"driver": "host-local"}
}
'

require_root

debian_mirror() {
    if [[ -n ${REGCTL_DEBIAN_MIRROR:-} ]]; then
        echo "${REGCTL_DEBIAN_MIRROR}"
        return 0
    fi
    awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null
}

# Fails unless nothing is mounted at or below DIR, so a removal with rm -rf
# can never reach into /dev, /proc or /sys of the host.
ensure_nothing_mounted() {
    local dir="$1"
    if findmnt --list --noheadings --output TARGET | grep -q "^${dir}\(/\|$\)"; then
        die "${dir} still has mounts; run umount -R ${dir} before removing it"
    fi
}

# Runs debootstrap into a temporary folder and renames it when it finishes,
# so an interrupted run never leaves a tree that looks complete.
bootstrap() {
    local partial="${chroot_dir}.partial" mirror log_file="${REGCTL_STATE_DIR}/debootstrap.log"
    command -v debootstrap >/dev/null || die "debootstrap not found; run scripts/engines/install.sh first"
    mirror="$(debian_mirror)"
    [[ -n ${mirror} ]] || die "no Debian mirror found; set REGCTL_DEBIAN_MIRROR"

    # debootstrap mounts /proc and /sys in the target and leaves them when
    # it is interrupted.
    if [[ -d ${partial} ]]; then
        umount -R "${partial}" 2>/dev/null || true
        ensure_nothing_mounted "${partial}"
        rm -rf "${partial}"
    fi

    mkdir -p "$(dirname "${chroot_dir}")" "${REGCTL_STATE_DIR}"
    log "debootstrap ${SUITE} from ${mirror} into ${partial} (about a minute; log: ${log_file})"
    local include
    include="$(IFS=,; echo "${PACKAGES[*]}")"
    if ! debootstrap --variant=minbase --include="${include}" "${SUITE}" "${partial}" "${mirror}" \
        </dev/null >"${log_file}" 2>&1; then
        show_log_tail "${log_file}"
        umount -R "${partial}" 2>/dev/null || true
        die "debootstrap failed; see ${log_file}"
    fi

    echo "${PACKAGES[*]}" >"${partial}/etc/regctl-packages"
    mv "${partial}" "${chroot_dir}"
}

# Installs PACKAGES in a tree built from an older list. debootstrap leaves
# the mirror in the tree's sources.list and the host's resolv.conf.
install_new_packages() {
    local log_file="${REGCTL_STATE_DIR}/chroot-apt.log"
    if [[ "$(cat "${packages_stamp}" 2>/dev/null)" == "${PACKAGES[*]}" ]]; then
        return 0
    fi

    log "installing ${PACKAGES[*]} in ${chroot_dir} (log: ${log_file})"
    if ! chroot "${chroot_dir}" env DEBIAN_FRONTEND=noninteractive sh -c \
        'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"' \
        sh "${PACKAGES[@]}" </dev/null >"${log_file}" 2>&1; then
        show_log_tail "${log_file}"
        die "apt-get in ${chroot_dir} failed; see ${log_file}"
    fi
    echo "${PACKAGES[*]}" >"${packages_stamp}"
}

# mount_once TARGET MOUNT_ARGS...: runs mount unless TARGET is a mount point.
mount_once() {
    local target="$1"
    shift
    if mountpoint -q "${target}"; then
        return 0
    fi
    mkdir -p "${target}"
    mount "$@" "${target}"
    log "mounted ${target}"
}

mount_all() {
    # The root must itself be a mount point: runc remounts the container's
    # parent mount, and fails with "remount /, flags: 0x44000: invalid
    # argument" on a plain folder.
    mount_once "${chroot_dir}" --bind "${chroot_dir}"
    mount_once "${chroot_dir}/proc" -t proc proc
    mount_once "${chroot_dir}/dev" --rbind /dev
    # --rbind, because a plain bind of /sys leaves out the cgroup mounts
    # below it ("no cgroup mount found in mountinfo").
    mount_once "${chroot_dir}/sys" --rbind /sys
    # A fresh /run on each mount, like a boot, so no engine finds the state
    # of a daemon that ran before.
    mount_once "${chroot_dir}/run" -t tmpfs -o mode=0755 tmpfs

    # rslave: an unmount inside the chroot tree must never propagate back to
    # the host's /dev or /sys, which happens when they are shared mounts.
    mount --make-rslave "${chroot_dir}/dev"
    mount --make-rslave "${chroot_dir}/sys"

    mkdir -p "${SOCKET_DIR}"
    mount_once "${chroot_dir}${SOCKET_DIR}" --bind "${SOCKET_DIR}"
}

write_engine_config() {
    mkdir -p "${chroot_dir}/etc/containers/networks"
    printf '%s' "${CONTAINERS_CONF}" >"${chroot_dir}/etc/containers/containers.conf"
    printf '%s' "${DEFAULT_NETWORK_JSON}" >"${chroot_dir}/etc/containers/networks/podman.json"
}

if [[ -x ${chroot_dir}/usr/bin/podman && -x ${chroot_dir}/usr/sbin/dockerd ]]; then
    log "reusing ${chroot_dir}"
else
    [[ ! -e ${chroot_dir} ]] || {
        ensure_nothing_mounted "${chroot_dir}"
        log "removing the incomplete ${chroot_dir}"
        rm -rf "${chroot_dir}"
    }
    bootstrap
fi

mount_all
install_new_packages
write_engine_config
log "chroot ready: $(chroot "${chroot_dir}" dockerd --version), $(chroot "${chroot_dir}" podman --version)"
