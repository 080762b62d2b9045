#!/usr/bin/env bash
# Install the system packages the end-to-end tests drive (real clients and a reference registry).
# Only as root and only what is missing; otherwise the tests that need a missing tool skip.
set -euo pipefail
need=()
command -v skopeo >/dev/null || need+=(skopeo)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v dockerd >/dev/null || need+=(docker.io)
command -v podman >/dev/null || need+=(podman)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "not root: cannot install ${need[*]}; tests needing them will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap >/dev/null
