#!/usr/bin/env bash
# The spec's sample request, used as people paste it: a new token for every call (curl, no cache),
# then the API call with it. Speaks the adapter protocol with nothing but bash, sed and curl.
set -uo pipefail

field() { # field NAME LINE: the value of a string or number member of a flat JSON object
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" <<<"$2"
}

token() {
  curl --silent --max-time 10 --location --request POST "${CRITEO_TOKEN_URL}" \
    --header 'Content-Type: application/x-www-form-urlencoded' \
    --data-urlencode "client_id=${CRITEO_CLIENT_ID}" \
    --data-urlencode "client_secret=${CRITEO_CLIENT_SECRET}" \
    --data-urlencode 'grant_type=client_credentials' | field access_token "$(cat)"
}

call() { # call METHOD PATH -> {"status":N} or {"error":...}
  local access status
  access="$(token)"
  status="$(curl --silent --max-time 20 --output /dev/null --write-out '%{http_code}' \
    --request "$1" "${CRITEO_API_URL}/${CRITEO_API_VERSION}$2" \
    --header "Authorization: Bearer ${access}" --header 'Accept: application/json')"
  if [[ "${status}" == "000" ]]; then
    printf '{"error":"CurlError","message":"no response"}'
  else
    printf '{"status":%d}' "$((10#${status}))"
  fi
}

printf '{"type":"ready","name":"naive-curl","version":"%s"}\n' "$(curl --version | head -1 | cut -d' ' -f2)"
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
