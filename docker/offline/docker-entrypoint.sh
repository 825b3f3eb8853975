#!/bin/bash
# Entry point of the offline WireMock image. It behaves like the official wiremock/wiremock image's:
# arguments that start with "-" (or none) are WireMock options; anything else is run as a command.
# $JAVA_OPTS goes to the JVM and $WIREMOCK_OPTIONS is appended to the WireMock options.
set -e

if [ "$#" -eq 0 ] || [ "${1:0:1}" = "-" ]; then
  # shellcheck disable=SC2086 # JAVA_OPTS holds several words on purpose
  set -- java $JAVA_OPTS -cp "/var/wiremock/lib/*:/var/wiremock/extensions/*" wiremock.Run "$@"
fi

# shellcheck disable=SC2086 # WIREMOCK_OPTIONS holds several words on purpose
exec "$@" $WIREMOCK_OPTIONS
