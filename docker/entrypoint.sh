#!/bin/sh
# s3proxy container entrypoint.
#
# Why a script: "config via a mounted file" should need no extra flags. `serve` without
# --config/--upstream/--data-dir reads $S3PROXY_CONFIG (default /etc/s3proxy/config.yaml) when
# that file exists; without one it serves the embedded local store in /data/s3proxy-data.
# S3PROXY_A__B environment variables override either (the image sets the listen hosts to
# 0.0.0.0). `exec` makes s3proxy PID 1, so SIGTERM drains and SIGHUP reloads as documented.
# Options without a command are serve's (`docker run IMAGE --port 9000`), except s3proxy's own
# --version and --help. Any other first argument that is not an s3proxy command runs as a
# program.
set -eu

config="${S3PROXY_CONFIG:-/etc/s3proxy/config.yaml}"

case "${1:-serve}" in
serve | check-config | locate | stats | --version | --help | -h) ;;
-*) set -- serve "$@" ;;
*) exec "$@" ;;
esac

if [ "$#" -eq 0 ]; then
  set -- serve
fi

if [ "$1" = serve ] && [ -f "$config" ]; then
  explicit=no
  for arg in "$@"; do
    case "$arg" in
    --config | --config=* | --upstream | --upstream=* | --data-dir | --data-dir=*) explicit=yes ;;
    esac
  done
  if [ "$explicit" = no ]; then
    shift
    set -- serve --config "$config" "$@"
  fi
fi

exec s3proxy "$@"
