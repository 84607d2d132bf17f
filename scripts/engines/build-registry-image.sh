#!/usr/bin/env bash
# Build the registry image docker.io/library/registry:2 without pulling it,
# from Debian's docker-registry package (Distribution 2.8), and import it
# into the engines of the test matrix.
#
# Usage: sudo scripts/engines/build-registry-image.sh [ENGINE...]
#
# ENGINE is docker (the host's Docker), docker26 (Docker 26 from the chroot),
# podman (the host's rootful Podman), podman-rootless (the host's Podman as
# the user regctl-rootless) or podman5 (Podman 5 from the chroot). With no
# argument, the image goes into each of them whose API responds.
# The Docker engines need their daemon running. The Podman engines need only
# their podman command, which uses the same image storage as the service.
# Each run imports a fresh copy under the upstream name, so it replaces any
# registry:2 image already present, including one pulled from Docker Hub.
# After the import, the script starts one container per engine and checks
# that GET /v2/ returns 200.
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The upstream name, so the product's default image reference works
# unchanged. Docker shows it as registry:2.
IMAGE=docker.io/library/registry:2
REGISTRY_BINARY=/usr/bin/docker-registry

# The same settings as the config.yml in the upstream image.
REGISTRY_CONFIG='version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
'

# The image config the upstream image declares. VOLUME makes an engine create
# an anonymous volume when nothing is mounted at /var/lib/registry.
IMPORT_CHANGES=(
    --change 'ENTRYPOINT ["/bin/registry"]'
    --change 'CMD ["serve","/etc/docker/registry/config.yml"]'
    --change 'EXPOSE 5000'
    --change 'VOLUME ["/var/lib/registry"]'
)

# Seconds to wait for the test container to return 200 on /v2/.
CHECK_TIMEOUT_SECONDS=30

ALL_ENGINES=(docker docker26 podman podman-rootless podman5)

engines=()
for argument in "$@"; do
    case "${argument}" in
    docker | docker26 | podman | podman-rootless | podman5) engines+=("${argument}") ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "invalid argument '${argument}': expected engines from: ${ALL_ENGINES[*]}" ;;
    esac
done

require_root

if ((${#engines[@]} == 0)); then
    for engine in "${ALL_ENGINES[@]}"; do
        if engine_is_up "${engine}"; then
            engines+=("${engine}")
        fi
    done
    if ((${#engines[@]} == 0)); then
        die "no engine is running; run scripts/engines/start-docker.sh or start-podman.sh first"
    fi
fi

for engine in "${engines[@]}"; do
    engine_cli "${engine}" || die "${engine}: user ${ROOTLESS_USER} not found; run scripts/engines/start-podman-rootless.sh first"
    command -v "${ENGINE_CLI[0]}" >/dev/null || die "${ENGINE_CLI[0]} not found; run scripts/engines/install.sh first"
    if [[ ${engine} == docker* ]] && ! engine_is_up "${engine}"; then
        die "${engine} was selected but its daemon does not respond; run scripts/engines/start-${engine}.sh"
    fi
done
[[ -x ${REGISTRY_BINARY} ]] || die "${REGISTRY_BINARY} not found; install the docker-registry package"

work_dir="$(mktemp -d)"
check_containers=()

cleanup() {
    local entry
    for entry in "${check_containers[@]}"; do
        # entry is "ENGINE NAME". -v also removes the anonymous volume the
        # image's VOLUME created.
        read -r engine_name container_name <<<"${entry}"
        engine_cli "${engine_name}"
        "${ENGINE_CLI[@]}" rm -f -v "${container_name}" >/dev/null 2>&1 || true
    done
    rm -rf "${work_dir}"
}
trap cleanup EXIT

# Prints the shared libraries BINARY loads, one path a line, including the
# dynamic loader. Fails when ldd reports a library as "not found".
list_shared_libraries() {
    local binary="$1" ldd_output
    ldd_output="$(ldd "${binary}" 2>&1)" || {
        # ldd exits non-zero for static binaries, which need no library.
        [[ ${ldd_output} == *"not a dynamic executable"* ]] && return 0
        die "ldd ${binary} failed: ${ldd_output}"
    }
    if grep -q 'not found' <<<"${ldd_output}"; then
        die "ldd ${binary} reports missing libraries: ${ldd_output}"
    fi
    # "libc.so.6 => /lib/.../libc.so.6 (0x...)" gives the third field.
    # "/lib64/ld-linux-x86-64.so.2 (0x...)" (the loader) gives the first.
    # linux-vdso.so.1 has no file and is skipped.
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"${ldd_output}"
}

build_rootfs() {
    local rootfs="$1" libraries library

    mkdir -p "${rootfs}/bin" "${rootfs}/etc/docker/registry" "${rootfs}/var/lib/registry"
    # Go's os.TempDir() defaults to /tmp.
    install -d -m 1777 "${rootfs}/tmp"

    install -m 0755 "${REGISTRY_BINARY}" "${rootfs}/bin/registry"
    printf '%s' "${REGISTRY_CONFIG}" >"${rootfs}/etc/docker/registry/config.yml"

    # A separate assignment, so that set -e stops the script when ldd fails.
    libraries="$(list_shared_libraries "${REGISTRY_BINARY}")"

    # Copy each library to the path the loader looks for, following symlinks
    # (on Debian 12, /lib64/ld-linux-x86-64.so.2 is one).
    for library in ${libraries}; do
        mkdir -p "${rootfs}$(dirname "${library}")"
        cp -L "${library}" "${rootfs}${library}"
        log "added ${library}"
    done
}

import_image() {
    local engine="$1" tarball="$2" old_id new_id
    engine_cli "${engine}"
    local cli=("${ENGINE_CLI[@]}")

    old_id="$("${cli[@]}" image inspect --format '{{.Id}}' "${IMAGE}" 2>/dev/null || true)"
    # The tarball goes through stdin, because neither the rootless user nor
    # the chroot can open a path in this script's private work folder.
    # podman prints progress on stderr unless --quiet, a flag docker import
    # lacks.
    if [[ ${engine} == podman* ]]; then
        new_id="$("${cli[@]}" import --quiet "${IMPORT_CHANGES[@]}" - "${IMAGE}" <"${tarball}")"
    else
        new_id="$("${cli[@]}" import "${IMPORT_CHANGES[@]}" - "${IMAGE}" <"${tarball}")"
    fi
    log "${engine}: imported ${IMAGE} as ${new_id}"

    # The previous build is now untagged. Remove it unless a container still
    # uses it, in which case the removal fails and the image stays.
    new_id="$("${cli[@]}" image inspect --format '{{.Id}}' "${IMAGE}")"
    if [[ -n ${old_id} && ${old_id} != "${new_id}" ]]; then
        if "${cli[@]}" image rm "${old_id}" >/dev/null 2>&1; then
            log "${engine}: removed the previous build ${old_id}"
        else
            log "${engine}: kept the previous build ${old_id} because a container still uses it"
        fi
    fi
}

# Fails unless the image config matches what IMPORT_CHANGES set.
check_image_config() {
    local engine="$1" entrypoint
    engine_cli "${engine}"
    entrypoint="$("${ENGINE_CLI[@]}" image inspect --format '{{json .Config.Entrypoint}}' "${IMAGE}")"
    [[ ${entrypoint} == '["/bin/registry"]' ]] ||
        die "${engine}: ${IMAGE} has entrypoint ${entrypoint}, expected [\"/bin/registry\"]"
}

registry_returns_200() {
    local port="$1" status
    status="$(curl --silent --output /dev/null --max-time 2 --write-out '%{http_code}' \
        "http://127.0.0.1:${port}/v2/" || true)"
    [[ ${status} == 200 ]]
}

# Starts a container from the image with an engine-chosen loopback port and
# waits for GET /v2/ to return 200.
check_registry_container() {
    local engine="$1" name port_line port
    name="regctl-image-check-${engine}-$$"
    engine_cli "${engine}"
    local cli=("${ENGINE_CLI[@]}")

    check_containers+=("${engine} ${name}")
    # No --rm: cleanup removes the container together with its anonymous
    # volume, also when a check below fails.
    "${cli[@]}" run --detach --name "${name}" --publish 127.0.0.1::5000 "${IMAGE}" >/dev/null

    # `port` prints "127.0.0.1:PORT".
    port_line="$("${cli[@]}" port "${name}" 5000/tcp | head -n 1)"
    port="${port_line##*:}"
    [[ ${port} =~ ^[0-9]+$ ]] || die "${engine}: cannot read the published port from '${port_line}'"

    if ! wait_until "${CHECK_TIMEOUT_SECONDS}" registry_returns_200 "${port}"; then
        log "${engine} logs ${name}:"
        "${cli[@]}" logs "${name}" >&2 || true
        die "${engine}: GET http://127.0.0.1:${port}/v2/ did not return 200 within ${CHECK_TIMEOUT_SECONDS}s"
    fi
    log "${engine}: GET http://127.0.0.1:${port}/v2/ returned 200"

    "${cli[@]}" rm -f -v "${name}" >/dev/null
}

log "building the registry root filesystem from $(${REGISTRY_BINARY} --version)"
build_rootfs "${work_dir}/rootfs"

# Numeric root ownership and a fixed order and mtime keep the layer the same
# on every build.
tarball="${work_dir}/registry-rootfs.tar"
tar --create --file "${tarball}" --directory "${work_dir}/rootfs" \
    --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 .

for engine in "${engines[@]}"; do
    import_image "${engine}" "${tarball}"
    check_image_config "${engine}"
    check_registry_container "${engine}"
done

log "${IMAGE} is ready in: ${engines[*]}"
