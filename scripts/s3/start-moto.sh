#!/usr/bin/env bash
# Installs moto's S3 server into a virtualenv and starts it on the Docker
# bridge gateway, where registry containers of every local engine reach it.
#
# Usage: sudo scripts/s3/start-moto.sh
#
# Prints the endpoint URL (such as http://172.17.0.1:9329) on stdout and
# writes it to ${REGCTL_STATE_DIR}/s3-endpoint. Idempotent: a running server
# is reused. Needs a running Docker daemon for its bridge.
#
# Why the bridge gateway: a container reaches the host through its network's
# gateway. Podman containers reach the Docker gateway too, because it is an
# address of the host, so one server serves both engines. Binding the
# gateway rather than 0.0.0.0 keeps the server off every other interface.
set -euo pipefail

# shellcheck source=scripts/engines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../engines/lib.sh"

readonly VENV=/opt/regctl-moto
readonly PORT="${REGCTL_S3_PORT:-9329}"
readonly LOG_FILE="${REGCTL_STATE_DIR}/moto.log"
readonly PID_FILE="${REGCTL_STATE_DIR}/moto.pid"
readonly ENDPOINT_FILE="${REGCTL_STATE_DIR}/s3-endpoint"

require_root
mkdir -p "${REGCTL_STATE_DIR}"

gateway="$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}')" ||
    die "cannot read the gateway of Docker's bridge network; is dockerd running?"
[[ -n ${gateway} ]] || die "Docker's bridge network has no gateway address"
endpoint="http://${gateway}:${PORT}"

s3_is_up() {
    curl --silent --max-time 2 --output /dev/null "${endpoint}/"
}

if s3_is_up; then
    log "S3 server already responds at ${endpoint}"
else
    if [[ ! -x ${VENV}/bin/moto_server ]]; then
        log "installing moto[server] into ${VENV}"
        python3 -m venv "${VENV}"
        "${VENV}/bin/pip" install --quiet 'moto[server]' >"${REGCTL_STATE_DIR}/moto-install.log" 2>&1 ||
            die "pip install failed: $(tail -n 20 "${REGCTL_STATE_DIR}/moto-install.log")"
    fi

    log "starting moto_server on ${gateway}:${PORT}"
    setsid "${VENV}/bin/moto_server" -H "${gateway}" -p "${PORT}" >"${LOG_FILE}" 2>&1 &
    echo $! >"${PID_FILE}"

    if ! wait_until 30 s3_is_up; then
        die "moto_server did not respond at ${endpoint} within 30 s: $(tail -n 20 "${LOG_FILE}")"
    fi
fi

echo "${endpoint}" >"${ENDPOINT_FILE}"
echo "${endpoint}"
