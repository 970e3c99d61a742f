#!/usr/bin/env bash
# Installs the system libraries Sluice builds against (libevent with OpenSSL support), when missing.
# Debian/Ubuntu; uses sudo when not root.
set -euo pipefail
if pkg-config --exists libevent_openssl libevent_pthreads openssl 2>/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "sluice: installing libevent-dev, libssl-dev and pkg-config (apt-get)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libevent-dev libssl-dev pkg-config openssl >/dev/null
