#!/usr/bin/env bash
# Installs what Sluice builds against (libevent with OpenSSL support) and what its tests run
# (the openssl and curl command-line tools, and redis-server for the shared-limits tests), when missing.
# Debian/Ubuntu; uses sudo when not root.
set -euo pipefail
if pkg-config --exists libevent_openssl libevent_pthreads openssl 2>/dev/null \
  && command -v openssl >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 \
  && command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "sluice: installing libevent-dev, libssl-dev, pkg-config, openssl, curl and redis-server (apt-get)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libevent-dev libssl-dev pkg-config openssl curl redis-server >/dev/null
# The package starts a system redis-server on 6379; the tests start their own on free ports and need none.
