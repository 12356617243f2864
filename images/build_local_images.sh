#!/usr/bin/env bash
# Build local stand-ins for every image that the stack would pull, from Debian
# packages, PyPI and the FerretDB binary only, for machines that reach no
# container registry.
#
# Usage: images/build_local_images.sh [--rebuild] [--env-file FILE] [NAME...]
#   NAME             debian, python, rabbitmq, zookeeper, ferretdb or nginx
#                    (default: all of them)
#   --rebuild        rebuild the named images even if they exist (the cached
#                    root filesystem and wheels are reused). Rebuilding debian
#                    makes the others build from scratch when they are rebuilt.
#   --env-file FILE  where to write the variables (default images/local.env)
#
# An image that exists is kept, except that it is rebuilt when its folder under
# images/ changed, and local/python:3.11 also when requirements.txt changed. A missing local/debian:bookworm is built even when
# not named, because every other stand-in starts from it. Caches live under $RIDESHARE_CACHE (default
# /var/cache/rideshare): the debootstrap root filesystem, the pip wheelhouse
# and the FerretDB binary ($FERRETDB_BIN). Delete a cache folder to refresh it.
#
# At the end the script prints `export NAME=value` lines for PYTHON_IMAGE,
# RABBITMQ_IMAGE, ZOOKEEPER_IMAGE, STORE_IMAGE, STORE_COMMAND and NGINX_IMAGE
# on stdout and writes them to the env file, so that
#   . images/local.env && docker compose up --build
# runs the stack on the stand-ins. Progress goes to stderr.
set -euo pipefail

images_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(dirname "$images_dir")
cache=${RIDESHARE_CACHE:-/var/cache/rideshare}
rootfs=$cache/rootfs/bookworm-minbase
wheelhouse=$cache/wheelhouse
export FERRETDB_BIN=${FERRETDB_BIN:-$cache/ferretdb}

debian_image=local/debian:bookworm
python_image=local/python:3.11
rabbitmq_image=local/rabbitmq:3.10
zookeeper_image=local/zookeeper:3.8
ferretdb_image=local/ferretdb:1.24
nginx_image=local/nginx:1.22

all_names=(debian python rabbitmq zookeeper ferretdb nginx)
names=()
rebuild=0
env_file=$images_dir/local.env
timings=()
replaced_images=()
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

log() {
  echo "==> $*" >&2
}

fail() {
  echo "error: $*" >&2
  exit 1
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case $1 in
      --rebuild) rebuild=1 ;;
      --env-file)
        [[ $# -ge 2 ]] || fail "--env-file needs a file name"
        env_file=$2
        shift
        ;;
      -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
      -*) fail "unknown option $1 (see --help)" ;;
      *)
        [[ " ${all_names[*]} " == *" $1 "* ]] || fail "unknown image name $1: expected one of ${all_names[*]}"
        names+=("$1")
        ;;
    esac
    shift
  done
  [[ ${#names[@]} -gt 0 ]] || names=("${all_names[@]}")
}

is_named() {
  [[ " ${names[*]} " == *" $1 "* ]]
}

image_exists() {
  docker image inspect "$1" >/dev/null 2>&1
}

# Remember the current id of image $1, if any, so that the image it replaces
# can be removed once every build is done.
remember_replaced() {
  local id
  if id=$(docker image inspect --format '{{.Id}}' "$1" 2>/dev/null); then
    replaced_images+=("$id")
  fi
}

# Remove the images that rebuilt ones replaced, newest first, because each
# replaced stand-in is a child of the replaced Debian image. One that a
# container still uses stays.
remove_replaced_images() {
  local i id
  for ((i = ${#replaced_images[@]} - 1; i >= 0; i--)); do
    id=${replaced_images[i]}
    # A rebuild with an unchanged build cache gives the same id back.
    if docker image inspect --format '{{.RepoTags}}' "$id" 2>/dev/null | grep -q '^\[\]$'; then
      docker image rm "$id" >/dev/null 2>&1 || log "kept the replaced image $id, which a container or another image still uses"
    fi
  done
}

# Print a SHA-256 over the files of images/$1, which the built image carries
# as a label, so that an image older than its folder is rebuilt.
folder_hash() {
  (cd "$images_dir/$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

# Return success when image $2 of name $1 must be built: it is missing, its
# folder changed since it was built, or --rebuild was given and the name is selected.
needs_build() {
  local name=$1 image=$2 built_hash
  if ! image_exists "$image"; then
    return 0
  fi
  if [[ $rebuild -eq 1 ]] && is_named "$name"; then
    return 0
  fi
  built_hash=$(docker image inspect --format '{{ index .Config.Labels "rideshare.source-sha256" }}' "$image")
  if [[ -d $images_dir/$name && $built_hash != "$(folder_hash "$name")" ]]; then
    log "images/$name changed since $image was built"
    return 0
  fi
  log "$image exists, kept (pass --rebuild $name to rebuild it)"
  return 1
}

# Run "$@" and record how long it took under the name $1 for the summary.
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  timings+=("$name: $((SECONDS - start)) s")
}

# Print the Debian mirror that the host's apt uses, so debootstrap and the
# image builds reach the same server.
host_mirror() {
  local mirror=${DEBIAN_MIRROR:-}
  if [[ -z $mirror && -f /etc/apt/sources.list.d/debian.sources ]]; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $mirror && -f /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit}' /etc/apt/sources.list)
  fi
  echo "${mirror:-http://deb.debian.org/debian}"
}

# Debootstrap a minbase bookworm into the cache once, and let later runs reuse it.
# The stamp file marks a finished bootstrap, so an interrupted one is redone.
bootstrap_rootfs() {
  local mirror stamp=$rootfs.complete
  if [[ -f $stamp ]]; then
    log "reusing the root filesystem in $rootfs"
    return
  fi
  command -v debootstrap >/dev/null || fail "debootstrap is missing: apt-get install -y debootstrap"
  mirror=$(host_mirror)
  log "debootstrap bookworm (minbase) from $mirror into $rootfs"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >&2
  configure_rootfs "$mirror"
  touch "$stamp"
}

configure_rootfs() {
  local mirror=$1
  # Updates and security fixes come from the same mirror layout as the host's.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Package scripts must not start services while an image is built. Debian's
  # own container images contain the same policy-rc.d.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod +x "$rootfs/usr/sbin/policy-rc.d"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
}

build_debian() {
  needs_build debian "$debian_image" || return 0
  bootstrap_rootfs
  log "importing $rootfs as $debian_image"
  remember_replaced "$debian_image"
  # An imported image has no PATH of its own, and the Dockerfiles extend it.
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL rideshare.stand-in=debian' \
    --change 'CMD ["bash"]' \
    - "$debian_image" >/dev/null
}

# Build images/$1/Dockerfile from context folder $2 into image $3 on top of the
# Debian stand-in. --network host lets apt-get in the build reach the mirror,
# because dockerd runs without iptables and its bridge has no route out.
docker_build() {
  local name=$1 context=$2 image=$3
  shift 3
  log "building $image"
  remember_replaced "$image"
  docker build --network host --build-arg "BASE_IMAGE=$debian_image" \
    --label "rideshare.stand-in=$name" --label "rideshare.source-sha256=$(folder_hash "$name")" \
    "$@" -t "$image" "$context" >&2
}

build_from_folder() {
  local name=$1 image=$2
  needs_build "$name" "$image" || return 0
  docker_build "$name" "$images_dir/$name" "$image"
}

# Print the pip options that select wheels for Debian bookworm's Python 3.11
# (glibc 2.36) whatever Python runs pip on the host.
target_wheel_options() {
  local arch minor
  arch=$(uname -m)
  echo --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311
  for minor in $(seq 36 -1 17); do
    echo --platform "manylinux_2_${minor}_${arch}"
  done
  echo --platform "manylinux2014_${arch}" --platform "manylinux2010_${arch}" --platform "manylinux1_${arch}"
}

# Copy the wheels that requirements.txt needs from the wheelhouse into folder
# $1, downloading into the wheelhouse from PyPI only what it lacks.
collect_wheels() {
  local dest=$1
  local -a target
  read -r -a target <<<"$(target_wheel_options | tr '\n' ' ')"
  mkdir -p "$wheelhouse" "$dest"
  if python3 -m pip download --quiet --disable-pip-version-check --no-index \
    --find-links "$wheelhouse" "${target[@]}" -d "$dest" -r "$repo_root/requirements.txt" 2>/dev/null; then
    log "every wheel was already in $wheelhouse"
    return
  fi
  log "downloading wheels from PyPI into $wheelhouse"
  python3 -m pip download --quiet --disable-pip-version-check "${target[@]}" \
    -d "$wheelhouse" -r "$repo_root/requirements.txt" >&2
  python3 -m pip download --quiet --disable-pip-version-check --no-index \
    --find-links "$wheelhouse" "${target[@]}" -d "$dest" -r "$repo_root/requirements.txt" >&2
}

build_python() {
  local hash built_hash context
  hash=$(sha256sum "$repo_root/requirements.txt" | cut -d' ' -f1)
  if ! { [[ $rebuild -eq 1 ]] && is_named python; } && image_exists "$python_image"; then
    built_hash=$(docker image inspect --format '{{ index .Config.Labels "rideshare.requirements-sha256" }}' "$python_image")
    if [[ $built_hash == "$hash" ]]; then
      log "$python_image exists with the current requirements.txt, kept"
      return
    fi
    log "requirements.txt changed since $python_image was built"
  fi
  command -v python3 >/dev/null || fail "python3 with pip is needed on the host to download wheels"
  context=$scratch/python
  mkdir -p "$context"
  cp "$images_dir/python/Dockerfile" "$repo_root/requirements.txt" "$context/"
  collect_wheels "$context/wheelhouse"
  docker_build python "$context" "$python_image" --label "rideshare.requirements-sha256=$hash"
}

build_ferretdb() {
  local context
  needs_build ferretdb "$ferretdb_image" || return 0
  "$images_dir/build_ferretdb.sh" >&2
  context=$scratch/ferretdb
  mkdir -p "$context"
  cp "$images_dir/ferretdb/Dockerfile" "$context/"
  cp "$FERRETDB_BIN" "$context/ferretdb"
  docker_build ferretdb "$context" "$ferretdb_image"
}

# Print the variables that point the compose file at the stand-ins. An empty
# STORE_COMMAND makes the orchestrator start the store with the image's own CMD.
print_env() {
  cat <<EOF
export PYTHON_IMAGE=$python_image
export RABBITMQ_IMAGE=$rabbitmq_image
export ZOOKEEPER_IMAGE=$zookeeper_image
export STORE_IMAGE=$ferretdb_image
export STORE_COMMAND=''
export NGINX_IMAGE=$nginx_image
EOF
}

warn_missing_images() {
  local image
  for image in "$debian_image" "$python_image" "$rabbitmq_image" "$zookeeper_image" "$ferretdb_image" "$nginx_image"; do
    image_exists "$image" || log "warning: $image is missing; run this script without names to build it"
  done
}

main() {
  parse_args "$@"
  docker info >/dev/null 2>&1 || fail "the Docker engine does not answer: start dockerd first"
  local start=$SECONDS

  timed debian build_debian
  is_named python && timed python build_python
  is_named rabbitmq && timed rabbitmq build_from_folder rabbitmq "$rabbitmq_image"
  is_named zookeeper && timed zookeeper build_from_folder zookeeper "$zookeeper_image"
  is_named ferretdb && timed ferretdb build_ferretdb
  is_named nginx && timed nginx build_from_folder nginx "$nginx_image"

  log "build times: ${timings[*]/%/,} total $((SECONDS - start)) s"
  remove_replaced_images
  warn_missing_images
  {
    echo "# Written by images/build_local_images.sh: local stand-in images."
    echo "# Load it into a shell with the . command before docker compose runs."
    print_env
  } >"$env_file"
  log "wrote $env_file; load it with: . $env_file"
  print_env
}

main "$@"
