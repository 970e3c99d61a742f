#!/usr/bin/env bash
# Installs what Sluice builds against (libevent with OpenSSL support) and the openssl and curl
# command-line tools, when missing. With --tests, also what the tests run: redis-server for the
# shared-limits tests, and chromium and python3 for the console's browser test.
# Debian/Ubuntu; uses sudo when not root.
set -euo pipefail
packages="libevent-dev libssl-dev pkg-config openssl curl"
tools="openssl curl"
if [ "${1:-}" = "--tests" ]; then
  packages="$packages redis-server chromium python3"
  tools="$tools redis-server chromium python3"
fi
missing=0
pkg-config --exists libevent_openssl libevent_pthreads openssl 2>/dev/null || missing=1
for tool in $tools; do command -v "$tool" >/dev/null 2>&1 || missing=1; done
if [ "$missing" = 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "sluice: installing $packages (apt-get)" >&2
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $packages >/dev/null
# The redis-server package starts a system redis-server on 6379; the tests start their own on free ports and need none.
