#!/usr/bin/env bash
# Sets up the remote-console suite (tests/remote, `make remote`): Debian's chromium (the served
# console in a real headless browser, driven over the DevTools protocol) and openssh-server/-client
# (a console over an SSH-forwarded socket, on a private sshd the test starts on a free port).
#
# Installs what is missing with apt-get (through sudo when not root). openssh-server's package would
# start and enable the system's sshd on port 22: where this script installs it, it keeps that from
# starting (a policy-rc.d for the install only, when the host has none) — run it in a CI container or
# VM, not on a machine whose sshd you don't want installed. sshd run as root needs /run/sshd.
#
# Exit 0 when the suite can run, 3 when some of it must be skipped (the reason on stdout; those
# tests skip and say why as well), other codes on errors.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else SUDO=none; fi
fi

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
have chromium || missing+=(chromium)
have sshd || missing+=(openssh-server)
{ have ssh && have ssh-keygen; } || missing+=(openssh-client)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$SUDO" = none ]; then
    echo "remote: skipping ${missing[*]}: not root and no passwordless sudo to apt-get install them"
    exit 3
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "remote: skipping ${missing[*]}: no apt-get here (install Debian's chromium and openssh-server yourself)"
    exit 3
  fi
  echo "remote: installing ${missing[*]}"
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # don't let the package start a system-wide sshd
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
  fi
  status=0
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"; } || status=$?
  if [ -n "$policy" ]; then $SUDO rm -f "$policy"; fi
  if [ $status -ne 0 ]; then
    echo "remote: skipping: apt-get install ${missing[*]} failed ($status)"
    exit 3
  fi
fi

if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
  mkdir -p -m 0755 /run/sshd  # sshd's privilege separation dir (the ssh service makes it at start)
fi

reasons=()
have chromium || reasons+=("no chromium after installing it (Ubuntu's is a snap: use Debian's package)")
have sshd || reasons+=("no sshd after installing openssh-server")
if [ ${#reasons[@]} -gt 0 ]; then
  echo "remote: skipping: ${reasons[*]}"
  exit 3
fi
echo "remote: chromium $(chromium --version 2>/dev/null | awk '{print $2}') and $(ssh -V 2>&1 | cut -d, -f1) ready"
