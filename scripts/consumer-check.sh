#!/usr/bin/env bash
# The consumer test: the packages as a user gets them from npm, checked outside this repository.
#
#   bash scripts/consumer-check.sh [NODE ...]
#
#   1. builds the workspace and `pnpm pack`s every publishable package (packages/*/package.json without
#      "private": true: a package added later is picked up), which replaces the workspace: ranges;
#   2. runs publint and @arethetypeswrong/cli on every tarball, on each module it exports (the modules are
#      read from the tarball's dist/, so a new module is checked without editing this script);
#   3. installs core + platform into a fresh npm project in a temporary directory (outside the workspace)
#      and measures the install (size, packages, install scripts): it must not contain the CLI's libraries;
#   4. compiles a TypeScript consumer (the READMEs' examples and an import of every exported module) with
#      strict, noImplicitOverride, noUncheckedIndexedAccess, exactOptionalPropertyTypes and skipLibCheck false,
#      under moduleResolution node16 and bundler;
#   5. adds the conformance package and, with each NODE given (node binaries; default: `node` on PATH):
#      starts `criteo-simulate` from the install, runs the README example as an ES module against it, runs the
#      `criteo-auth` bin from node_modules/.bin, and `criteo-conformance run --adapter criteo-auth`.
#
# Needs the npm registry (the consumer project installs effect and the other dependencies from it) and Java 11+
# (the simulator's process runtime). Any failure fails the script. CONSUMER_CHECK_KEEP=1 keeps the temporary
# directory; CONSUMER_CHECK_DIR chooses it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
started=${SECONDS}
nodes=("$@")
if [[ ${#nodes[@]} -eq 0 ]]; then nodes=("$(command -v node)"); fi

work="${CONSUMER_CHECK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/criteo-auth-consumer.XXXXXX")}"
mkdir -p "${work}"
case "${work}/" in "${repo}/"*) echo "consumer-check: ${work} is inside the repository" >&2; exit 2 ;; esac

simulator_pid=""
cleanup() {
  local status=$?
  stop_simulator
  if [[ "${CONSUMER_CHECK_KEEP:-}" == 1 || ${status} -ne 0 ]]; then
    echo "consumer-check: files kept in ${work}" >&2
  else
    rm -rf "${work}"
  fi
}
stop_simulator() {
  if [[ -n "${simulator_pid}" ]]; then
    kill -TERM "${simulator_pid}" 2> /dev/null || true
    # criteo-simulate stops its JVM when its scope closes; give it 15 s.
    for _ in $(seq 30); do
      kill -0 "${simulator_pid}" 2> /dev/null || break
      sleep 0.5
    done
    kill -KILL "${simulator_pid}" 2> /dev/null || true
    wait "${simulator_pid}" 2> /dev/null || true
    simulator_pid=""
  fi
}
trap cleanup EXIT

step() { printf '\n--> consumer-check: %s\n' "$*"; }
fail() { echo "consumer-check: FAILED: $*" >&2; exit 1; }

# --- 1. build and pack ----------------------------------------------------------------------------------
step "build (pnpm build)"
(cd "${repo}" && pnpm build)

mkdir -p "${work}/tarballs"
packages=()
for manifest in "${repo}"/packages/*/package.json; do
  if [[ "$(node -p "require(process.argv[1]).private === true" "${manifest}")" == true ]]; then continue; fi
  packages+=("$(dirname "${manifest}")")
done
declare -A tarball
for dir in "${packages[@]}"; do
  name="$(node -p "require(process.argv[1]).name" "${dir}/package.json")"
  step "pnpm pack ${name}"
  (cd "${dir}" && pnpm pack --pack-destination "${work}/tarballs" > "${work}/pack.log" 2>&1) ||
    { cat "${work}/pack.log" >&2; fail "pnpm pack ${name}"; }
  file="$(ls -t "${work}"/tarballs/*.tgz | head -n 1)"
  tarball[${name}]="${file}"
  manifest_text="$(tar -xzOf "${file}" package/package.json)"
  [[ "${manifest_text}" != *'"workspace:'* ]] || fail "${name}: a workspace: range is left in the tarball"
  listing="$(tar -tzf "${file}")"
  for required in package/LICENSE package/README.md package/dist/index.js package/dist/index.d.ts; do
    grep -qx "${required}" <<< "${listing}" || fail "${name}: ${required#package/} missing from the tarball"
  done
  printf '    %s  %s KB, %s files\n' "$(basename "${file}")" "$(($(stat -c %s "${file}") / 1024))" \
    "$(wc -l <<< "${listing}")"
done

# --- 2. publint and arethetypeswrong --------------------------------------------------------------------
for name in "${!tarball[@]}"; do
  file="${tarball[${name}]}"
  step "publint ${name}"
  (cd "${repo}" && node_modules/.bin/publint run "${file}" --strict)
  # Every public module: dist/X.d.ts at the top of dist/ (internal modules are not exported).
  mapfile -t entrypoints < <(tar -tzf "${file}" | sed -n 's#^package/dist/\([A-Za-z][A-Za-z0-9]*\)\.d\.ts$#./\1#p' |
    grep -vx './index' | sort)
  step "attw ${name} (. ${entrypoints[*]})"
  # ESM only: the profile leaves out node10 and CommonJS `require` (a dynamic import works there). The
  # typesVersions of the published manifest make node10 resolve too; it is shown, not enforced.
  (cd "${repo}" && node_modules/.bin/attw "${file}" --profile esm-only --format table-flipped --no-color \
    --entrypoints . "${entrypoints[@]}")
done

# --- 3. the library alone: core + platform in a fresh npm project ---------------------------------------
consumer="${work}/consumer"
mkdir -p "${consumer}"
cat > "${consumer}/package.json" << 'EOF'
{ "name": "criteo-auth-consumer", "private": true, "type": "module" }
EOF
cat > "${consumer}/.npmrc" << 'EOF'
audit=false
fund=false
update-notifier=false
EOF
step "npm install core + platform (the library, as an application installs it)"
install_started=${SECONDS}
(cd "${consumer}" && npm install --loglevel=error \
  "${tarball[@criteo-auth/core]}" "${tarball[@criteo-auth/platform]}" > "${work}/npm-install.log" 2>&1) ||
  { cat "${work}/npm-install.log" >&2; fail "npm install of the library"; }
library_seconds=$((SECONDS - install_started))
node - "${consumer}" "${library_seconds}" << 'EOF'
const Fs = require("node:fs")
const Path = require("node:path")
const [consumer, seconds] = process.argv.slice(2)
const lock = JSON.parse(Fs.readFileSync(Path.join(consumer, "node_modules/.package-lock.json"), "utf8"))
const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith("node_modules/"))
const scripts = installed.filter(([, meta]) => meta.hasInstallScript).map(([path]) => path.slice(13))
const size = (dir) => Fs.readdirSync(dir, { withFileTypes: true }).reduce((total, entry) => {
  const path = Path.join(dir, entry.name)
  return total + (entry.isDirectory() ? size(path) : entry.isFile() ? Fs.statSync(path).size : 0)
}, 0)
const bytes = size(Path.join(consumer, "node_modules"))
console.log(`    library install: ${installed.length} packages, ${(bytes / 1e6).toFixed(1)} MB on disk, ` +
  `${seconds} s, install scripts: ${scripts.length === 0 ? "none" : scripts.join(", ")}`)
const cli = ["@effect/cli", "@effect/printer", "@effect/printer-ansi", "testcontainers", "ioredis"]
  .filter((name) => lock.packages[`node_modules/${name}`] !== undefined)
if (cli.length > 0) {
  console.error(`consumer-check: the library alone installed ${cli.join(", ")}`)
  process.exit(1)
}
EOF

step "criteo-auth without its optional peers: a clear message, exit 2"
set +e
message="$(cd "${consumer}" && node_modules/.bin/criteo-auth --help 2>&1)"
code=$?
set -e
[[ ${code} -eq 2 && "${message}" == *"npm install @effect/cli@"* ]] ||
  fail "criteo-auth without @effect/cli: exit ${code}: ${message}"

# --- 4. the tools, and the TypeScript consumer ----------------------------------------------------------
# The CLI's optional peers as platform's README says to install them (and ioredis, the Redis store's), the
# conformance kit, and the compiler.
peer_range() { node -p "require(process.argv[1]).peerDependencies[process.argv[2]]" "${repo}/packages/platform/package.json" "$1"; }
typescript="$(node -p "require(process.argv[1]).version" "${repo}/node_modules/typescript/package.json")"
types_node="$(node -p "require(process.argv[1]).version" "${repo}/node_modules/@types/node/package.json")"
# With skipLibCheck false the compiler also checks Effect's own declarations: @effect/platform's need the DOM
# library (Transferable, Storage) and @effect/platform-node's need @types/ws, whatever the consumer imports.
step "npm install conformance, the CLI's peers, ioredis, typescript@${typescript}, @types/node@${types_node}, @types/ws"
install_started=${SECONDS}
(cd "${consumer}" && npm install --loglevel=error "${tarball[@]}" \
  "@effect/cli@$(peer_range @effect/cli)" "@effect/printer@$(peer_range @effect/printer)" \
  "@effect/printer-ansi@$(peer_range @effect/printer-ansi)" "ioredis@$(peer_range ioredis)" \
  "typescript@${typescript}" "@types/node@${types_node}" "@types/ws@^8.18.2" > "${work}/npm-install.log" 2>&1) ||
  { cat "${work}/npm-install.log" >&2; fail "npm install of the tools"; }
echo "    ($((SECONDS - install_started)) s)"

step "TypeScript consumer: the READMEs' examples and every module, strict, skipLibCheck false"
mkdir -p "${consumer}/src"
# The first ```ts block after HEADING in a README.
readme_block() {
  node -e '
    const [file, heading] = process.argv.slice(1)
    const text = require("node:fs").readFileSync(file, "utf8")
    const at = text.indexOf(heading)
    if (at < 0) throw new Error(`${file}: no heading ${heading}`)
    const block = /```ts\n([\s\S]*?)```/.exec(text.slice(at))
    if (block === null) throw new Error(`${file}: no ts block after ${heading}`)
    process.stdout.write(block[1])
  ' "$1" "$2"
}
readme_block "${repo}/packages/platform/README.md" "### In an Effect application" > "${consumer}/src/advertiser.ts"
readme_block "${repo}/README.md" "## The core API" > "${consumer}/src/core-readme.ts"
readme_block "${repo}/packages/core/README.md" "## Example" > "${consumer}/src/core-package-readme.ts"
readme_block "${repo}/packages/platform/README.md" '## Without Effect: `CriteoPromise`' > "${consumer}/src/promise.ts"
cp "${repo}/packages/platform/examples/explicit.ts" "${consumer}/src/explicit.ts"
{
  for name in "${!tarball[@]}"; do
    while read -r module; do
      echo "import * as M_${name//[^a-z]/_}_${module} from \"${name}/${module}\""
      echo "export { M_${name//[^a-z]/_}_${module} }"
    done < <(tar -tzf "${tarball[${name}]}" | sed -n 's#^package/dist/\([A-Za-z][A-Za-z0-9]*\)\.d\.ts$#\1#p' |
      grep -vx 'index\|bin' | sort)
    echo "export * as M_${name//[^a-z]/_} from \"${name}\""
  done
} > "${consumer}/src/modules.ts"
for resolution in node16 bundler; do
  module=$([[ ${resolution} == node16 ]] && echo node16 || echo esnext)
  cat > "${consumer}/tsconfig.${resolution}.json" << EOF
{
  "compilerOptions": {
    "strict": true,
    "noImplicitOverride": true,
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "skipLibCheck": false,
    "module": "${module}",
    "moduleResolution": "${resolution}",
    "target": "ES2022",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "types": ["node"],
    "noEmit": true
  },
  "include": ["src"]
}
EOF
done
for resolution in node16 bundler; do
  echo "    moduleResolution ${resolution}"
  (cd "${consumer}" && node node_modules/typescript/bin/tsc -p "tsconfig.${resolution}.json") ||
    fail "the TypeScript consumer does not compile under moduleResolution ${resolution}"
done

# --- 5. the runtime checks, on each Node.js -------------------------------------------------------------
# The README example as an ES module: the block has no type annotations, so it runs as JavaScript.
cp "${consumer}/src/advertiser.ts" "${consumer}/advertiser.mjs"

start_simulator() {
  local log="${work}/simulator.log"
  (cd "${consumer}" && exec node_modules/.bin/criteo-simulate --runtime process --port 0 > "${log}" 2>&1) &
  simulator_pid=$!
  local deadline=$((SECONDS + 90))
  until grep -q "listening on http" "${log}"; do
    if ! kill -0 "${simulator_pid}" 2> /dev/null || ((SECONDS > deadline)); then
      cat "${log}" >&2
      fail "criteo-simulate did not start"
    fi
    sleep 0.5
  done
  base_url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "${log}" | head -n 1)"
  client_secret="$(sed -n 's/^ *client secret *\([^ ]*\).*/\1/p' "${log}" | head -n 1)"
  echo "    simulator at ${base_url} (pid ${simulator_pid})"
}

for node_bin in "${nodes[@]}"; do
  node_dir="$(dirname "${node_bin}")"
  version="$("${node_bin}" --version)"
  export PATH="${node_dir}:${PATH}"
  [[ "$(node --version)" == "${version}" ]] || fail "${node_bin} is not first on PATH"

  step "${version}: criteo-simulate from the install"
  start_simulator
  export CRITEO_CLIENT_ID="demo-client-consumer" CRITEO_CLIENT_SECRET="${client_secret}"
  export CRITEO_TOKEN_URL="${base_url}/oauth2/token" CRITEO_API_URL="${base_url}"

  step "${version}: the README example as an ES module"
  output="$(cd "${consumer}" && node advertiser.mjs 2>&1)" || fail "advertiser.mjs: ${output}"
  echo "    ${output}"
  [[ "${output}" == "Connected as advertiser "* ]] || fail "advertiser.mjs printed: ${output}"

  step "${version}: node_modules/.bin/criteo-auth"
  output="$(cd "${consumer}" && node_modules/.bin/criteo-auth token 2>&1)" || fail "criteo-auth token: ${output}"
  echo "${output}" | sed 's/^/    /'
  [[ "${output}" != *"${client_secret}"* ]] || fail "criteo-auth token printed the client secret"
  stop_simulator
  unset CRITEO_CLIENT_ID CRITEO_CLIENT_SECRET CRITEO_TOKEN_URL CRITEO_API_URL

  step "${version}: criteo-conformance run --adapter criteo-auth (from the install)"
  (cd "${consumer}" && node_modules/.bin/criteo-conformance run --adapter criteo-auth --runtime process \
    --report-dir "${work}/reports-${version}" --color never) > "${work}/conformance.log" 2>&1 ||
    { tail -n 40 "${work}/conformance.log" >&2; fail "criteo-conformance run on ${version}"; }
  tail -n 4 "${work}/conformance.log" | sed 's/^/    /'
  [[ -s "${work}/reports-${version}/report.json" ]] || fail "criteo-conformance wrote no report.json"
done

step "ok: ${#nodes[@]} Node.js version(s) in $((SECONDS - started)) s"
