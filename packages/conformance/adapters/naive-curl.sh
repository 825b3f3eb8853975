#!/usr/bin/env bash
# Criteo's sample request, used as people paste it: a new token for every call (curl --location, no cache,
# no timeout, client_credentials only), then the API call with whatever access_token sed found. Speaks
# the adapter protocol with nothing but bash, sed and curl.
set -uo pipefail

field() { # field NAME TEXT: the value of a string or number member of a JSON object
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" <<<"$2" | head -n 1
}

token() {
  local answer
  answer="$(curl --silent --location --request POST "${CRITEO_TOKEN_URL}" \
    --header 'Content-Type: application/x-www-form-urlencoded' \
    --data-urlencode "client_id=${CRITEO_CLIENT_ID}" \
    --data-urlencode "client_secret=${CRITEO_CLIENT_SECRET}" \
    --data-urlencode 'grant_type=client_credentials')"
  field access_token "${answer}"
}

call() { # call METHOD PATH -> {"status":N} or {"error":...}
  local access status
  access="$(token)"
  status="$(curl --silent --output /dev/null --write-out '%{http_code}' \
    --request "$1" "${CRITEO_API_URL}/${CRITEO_API_VERSION}$2" \
    --header "Authorization: Bearer ${access}" --header 'Accept: application/json')"
  if [[ -z "${status}" || "${status}" == "000" ]]; then
    printf '{"error":"CurlError","message":"no response"}'
  else
    printf '{"status":%d}' "$((10#${status}))"
  fi
}

printf '{"type":"ready","name":"naive-curl","version":"%s","protocol":1}\n' "$(curl --version | head -n 1 | cut -d' ' -f2)"
while IFS= read -r line; do
  type="$(field type "${line}")"
  id="$(field id "${line}")"
  case "${type}" in
    shutdown) exit 0 ;;
    call)
      printf '{"id":"%s","type":"result",%s\n' "${id}" "$(call "$(field method "${line}")" "$(field path "${line}")" | cut -c2-)"
      ;;
    calls)
      count="$(field count "${line}")"
      dir="$(mktemp -d)"
      for ((i = 0; i < count; i++)); do
        call "$(field method "${line}")" "$(field path "${line}")" >"${dir}/${i}" &
      done
      wait
      results="$(for ((i = 0; i < count; i++)); do cat "${dir}/${i}"; printf ','; done)"
      rm -rf "${dir}"
      printf '{"id":"%s","type":"results","results":[%s]}\n' "${id}" "${results%,}"
      ;;
    *) printf '{"id":"%s","type":"result","error":"UnknownCommand"}\n' "${id}" ;;
  esac
done
