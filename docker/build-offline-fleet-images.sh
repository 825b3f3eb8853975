#!/usr/bin/env bash
# Builds, without any container registry, stand-ins for the two official images the compose file's `fleet`
# profile uses, tagged with their official names so that docker/compose.yaml runs unchanged here:
#
#   redis:7-bookworm        Debian bookworm's redis-server (7.0) on the offline base image, started as the
#                           official image starts it (protected mode off when no config file is given: the
#                           compose network, not the host, reaches it; compose publishes no Redis port)
#   node:20-bookworm-slim   this machine's Node.js 20 binary on the offline base image
#
# The base image (criteo-auth/debian-jre17:<suite>) is the one docker/build-offline-image.sh debootstraps; run
# that first. Needs a running Docker engine and the Debian mirror apt uses. Does nothing for an image that
# exists, unless --force is given.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

suite="${DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}"
readonly base="criteo-auth/debian-jre17:${suite}"
force=false
[[ "${1:-}" == "--force" ]] && force=true

log() {
  printf '[build-offline-fleet-images] %s\n' "$*" >&2
}

docker image inspect "${base}" > /dev/null 2>&1 || { log "missing ${base}: run docker/build-offline-image.sh first"; exit 1; }

work="$(mktemp -d /tmp/fleet-images.XXXXXX)"
trap 'rm -rf "${work}"' EXIT

if [[ "${force}" == true ]] || ! docker image inspect redis:7-bookworm > /dev/null 2>&1; then
  log "building redis:7-bookworm on ${base}"
  mkdir -p "${work}/redis"
  cp docker/offline/redis-entrypoint.sh "${work}/redis/docker-entrypoint.sh"
  cat > "${work}/redis/Dockerfile" <<DOCKERFILE
FROM ${base}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \\
  && rm -rf /var/lib/apt/lists/*
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
DOCKERFILE
  docker build -q -t redis:7-bookworm "${work}/redis" > /dev/null
fi

if [[ "${force}" == true ]] || ! docker image inspect node:20-bookworm-slim > /dev/null 2>&1; then
  node_bin="$(command -v node)"
  [[ "$("${node_bin}" --version)" == v20.* ]] || { log "node on the PATH is not Node.js 20"; exit 1; }
  log "building node:20-bookworm-slim on ${base} with ${node_bin} ($("${node_bin}" --version))"
  mkdir -p "${work}/node"
  cp "${node_bin}" "${work}/node/node"
  cat > "${work}/node/Dockerfile" <<DOCKERFILE
FROM ${base}
COPY node /usr/local/bin/node
CMD ["node"]
DOCKERFILE
  docker build -q -t node:20-bookworm-slim "${work}/node" > /dev/null
fi
log "redis:7-bookworm and node:20-bookworm-slim are ready"
