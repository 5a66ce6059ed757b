#!/bin/sh
# Installs the external tools the tests need on Debian/Ubuntu: swtpm and tpm2-tools
# (live TPM quotes), openssl (the certificate-chain cross-check) and systemd-analyze
# (the systemd unit in deploy/, from the systemd package; nothing is started). Idempotent: does nothing when the tools are already on PATH, so
# CI can call it unconditionally. Tests never install anything themselves; they
# fail with a pointer to this script instead.
set -eu

have_all() {
  command -v swtpm >/dev/null 2>&1 && command -v tpm2_quote >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && command -v systemd-analyze >/dev/null 2>&1
}

if have_all; then
  echo "install-test-deps: swtpm, tpm2-tools, openssl and systemd-analyze already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: apt-get not found; install swtpm, swtpm-tools, tpm2-tools, openssl and systemd by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-test-deps: run as root (or install sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh image has empty package lists; refreshing is cheap next to a failed install.
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends swtpm swtpm-tools tpm2-tools openssl systemd

have_all || {
  echo "install-test-deps: installation finished but swtpm, tpm2_quote, openssl or systemd-analyze is still not on PATH" >&2
  exit 1
}
echo "install-test-deps: done"
