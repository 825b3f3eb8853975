#!/usr/bin/env bash
# Builds, without any container registry, an image equivalent to the official WireMock image and tags
# it with the official name (wiremock/wiremock:3.13.2), so that the container runtime of the simulator
# (testcontainers) and docker/Dockerfile work unchanged on this project's machines.
#
#   1. debootstrap a minimal Debian with a headless JRE 17 from the machine's own apt mirror (~60 s);
#   2. `docker import` it as the base image (criteo-auth/debian-jre17:<suite>);
#   3. build docker/offline/Dockerfile on it with the jar of the npm package `wiremock`.
#
# Needs root, a running Docker engine, debootstrap, and `pnpm install` done (for the jar).
# Does nothing when the image already exists, unless --force is given.
#
# Environment: WIREMOCK_IMAGE (default wiremock/wiremock:3.13.2), DEBIAN_MIRROR, DEBIAN_SUITE.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly WIREMOCK_VERSION="3.13.2"
readonly IMAGE="${WIREMOCK_IMAGE:-wiremock/wiremock:${WIREMOCK_VERSION}}"
force=false
[[ "${1:-}" == "--force" ]] && force=true

log() {
  printf '[build-offline-image] %s\n' "$*" >&2
}

if [[ "${force}" == false ]] && docker image inspect "${IMAGE}" > /dev/null 2>&1; then
  log "${IMAGE} already exists (use --force to rebuild)"
  exit 0
fi

jar="packages/conformance/node_modules/wiremock/build/wiremock-standalone-${WIREMOCK_VERSION}.jar"
if [[ ! -f "${jar}" ]]; then
  log "missing ${jar}: run pnpm install first"
  exit 1
fi
command -v debootstrap > /dev/null || { log "debootstrap is not installed (apt-get install -y debootstrap)"; exit 1; }

# The suite and mirror the machine's own apt uses: the only Debian mirror it can reach.
suite="${DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}"
mirror="${DEBIAN_MIRROR:-}"
if [[ -z "${mirror}" ]]; then
  mirror="$(
    {
      grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
      grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}'
    } | grep -v -e security -e '^$' | head -n 1 || true
  )"
  mirror="${mirror:-http://deb.debian.org/debian}"
fi
readonly base="criteo-auth/debian-jre17:${suite}"

work="$(mktemp -d /tmp/wiremock-image.XXXXXX)"
cleanup() {
  rm -rf "${work}"
}
trap cleanup EXIT

if [[ "${force}" == true ]] || ! docker image inspect "${base}" > /dev/null 2>&1; then
  log "debootstrap ${suite} from ${mirror}"
  start=${SECONDS}
  debootstrap --variant=minbase --include=openjdk-17-jre-headless,ca-certificates,curl \
    "${suite}" "${work}/rootfs" "${mirror}" > "${work}/debootstrap.log" 2>&1 || {
    tail -n 30 "${work}/debootstrap.log" >&2
    exit 1
  }
  # Slim the root file system: apt lists, caches, docs and man pages are not needed at run time.
  rm -rf "${work}/rootfs/var/cache/apt/archives/"*.deb "${work}/rootfs/var/lib/apt/lists/"* \
    "${work}/rootfs/usr/share/doc/"* "${work}/rootfs/usr/share/man/"*
  log "debootstrap done in $((SECONDS - start)) s; importing as ${base}"
  tar -C "${work}/rootfs" -c . | docker import - "${base}" > /dev/null
fi

mkdir -p "${work}/context"
cp "${jar}" "${work}/context/wiremock-standalone.jar"
cp docker/offline/docker-entrypoint.sh "${work}/context/docker-entrypoint.sh"
log "building ${IMAGE} on ${base}"
DOCKER_BUILDKIT=0 docker build --quiet \
  --build-arg "BASE_IMAGE=${base}" --build-arg "WIREMOCK_VERSION=${WIREMOCK_VERSION}" \
  -t "${IMAGE}" -f docker/offline/Dockerfile "${work}/context" > /dev/null
log "built ${IMAGE}"
