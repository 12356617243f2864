#!/usr/bin/env bash
# Run the test suite: tests/run.sh [pytest arguments...]
#
# On Debian, as root, this first installs what the tests need and is missing:
# rabbitmq-server, zookeeper and a JRE from apt, the Python requirements from
# requirements-dev.txt, and the FerretDB binary (images/build_ferretdb.sh).
# It starts no system-wide services: the test fixtures start private RabbitMQ,
# ZooKeeper and FerretDB servers on free 127.0.0.1 ports.
set -euo pipefail

cd "$(dirname "$0")/.."

apt_packages=(rabbitmq-server zookeeper default-jre-headless)
python_modules=(flask gunicorn pika kazoo docker pymongo requests pytest)
export FERRETDB_BIN=${FERRETDB_BIN:-/var/cache/rideshare/ferretdb}

missing_apt_packages() {
  local package
  for package in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      echo "$package"
    fi
  done
}

# Install with services held back: Debian starts a package's service on install,
# and a system-wide RabbitMQ would take port 5672 and 25672.
apt_install_without_starting() {
  local created_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
  if [[ -n "$created_policy" ]]; then
    rm -f /usr/sbin/policy-rc.d
  fi
}

install_apt_packages() {
  [[ -f /etc/debian_version ]] || return 0
  local missing
  missing=$(missing_apt_packages | tr "\n" " ")
  [[ -n "$missing" ]] || return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: $missing. Install them as root: apt-get install $missing" >&2
    exit 1
  fi
  # shellcheck disable=SC2086 # one package name per word
  apt_install_without_starting $missing
}

install_python_requirements() {
  local imports
  imports=$(IFS=,; echo "${python_modules[*]}")
  if ! python3 -c "import $imports" 2>/dev/null; then
    echo "a Python requirement is missing, installing requirements-dev.txt"
    python3 -m pip install -r requirements-dev.txt
  fi
}

build_ferretdb() {
  if [[ -x "$FERRETDB_BIN" ]] || command -v "$FERRETDB_BIN" >/dev/null; then
    return
  fi
  if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  images/build_ferretdb.sh
}

install_apt_packages
install_python_requirements
build_ferretdb

exec python3 -m pytest "$@"
