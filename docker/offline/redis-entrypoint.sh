#!/bin/sh
# As the official Redis image's entrypoint: `redis-server` without a config file gets --protected-mode no
# (the container's network, not the host, reaches it), and options alone are passed to redis-server.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = "redis-server" ]; then
  case " $* " in
    *.conf*) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
fi
exec "$@"
