#!/usr/bin/env bash
# Remove this project's Docker objects and nothing else on the host: the
# containers that the orchestrator started (label rideshare.project=<project>),
# the compose project with its volumes and network (this erases the write log
# and the ZooKeeper data), and the images built for it (label
# rideshare.compose-project=<project>). The project is COMPOSE_PROJECT_NAME,
# from the environment or from .env. Each command is printed before it runs.
#
# Usage: ./docker_clean.sh [--stand-ins]
#   --stand-ins  also remove the local stand-in images that
#                images/build_local_images.sh built (local/* with the label
#                rideshare.stand-in), which every project on the host shares
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 1

# The compose project: COMPOSE_PROJECT_NAME from the environment, else from .env.
project=${COMPOSE_PROJECT_NAME:-$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' .env 2>/dev/null)}
project=${project:-rideshare}
status=0
remove_last='^$'

# Print a command, run it, and remember a failure without stopping, so that
# one object that cannot be removed does not keep the others.
run() {
  echo "+ $*"
  if ! "$@"; then
    echo "warning: failed: $*" >&2
    status=1
  fi
}

detect_compose() {
  if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
  elif command -v docker-compose >/dev/null; then
    compose=(docker-compose)
  else
    compose=()
  fi
}

# Remove every container whose labels match filter $1, with its anonymous volumes.
remove_containers() {
  local -a ids
  mapfile -t ids < <(docker ps --all --quiet --filter "$1")
  if [[ ${#ids[@]} -eq 0 ]]; then
    echo "no containers with $1"
    return
  fi
  run docker rm --force --volumes "${ids[@]}"
}

# Print a reference for each image matching the filters in $@: repository:tag,
# or the id for an untagged image.
image_references() {
  local -a options=()
  local filter
  for filter in "$@"; do
    options+=(--filter "$filter")
  done
  docker image ls "${options[@]}" --format '{{.Repository}}:{{.Tag}} {{.ID}}' |
    awk '{ print ($1 == "<none>:<none>") ? $2 : $1 }'
}

# Remove the images matching the filters in $@. References that match
# $remove_last (a regular expression) go last, because the other images are
# built on top of them.
remove_images() {
  local -a refs
  mapfile -t refs < <({
    image_references "$@" | grep -Ev "$remove_last"
    image_references "$@" | grep -E "$remove_last"
  })
  if [[ ${#refs[@]} -eq 0 ]]; then
    echo "no images with $*"
    return
  fi
  run docker image rm "${refs[@]}"
}

main() {
  local stand_ins=0
  case ${1:-} in
    "") ;;
    --stand-ins) stand_ins=1 ;;
    *)
      echo "usage: $0 [--stand-ins]" >&2
      exit 2
      ;;
  esac

  echo "== stopping the orchestrator first, so that it starts no new workers"
  local -a ids
  mapfile -t ids < <(docker ps --quiet --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=orchestrator")
  if [[ ${#ids[@]} -gt 0 ]]; then
    run docker stop "${ids[@]}"
  else
    echo "no running orchestrator"
  fi

  echo "== containers started by the orchestrator"
  remove_containers "label=rideshare.project=$project"

  echo "== the compose project $project"
  detect_compose
  if [[ ${#compose[@]} -gt 0 ]]; then
    run "${compose[@]}" down --volumes --remove-orphans
  else
    echo "no compose command found; removing the project's objects by label"
  fi
  # Objects that compose down leaves, such as those of services since removed
  # from the compose file.
  remove_containers "label=com.docker.compose.project=$project"
  local -a volumes networks
  mapfile -t volumes < <(docker volume ls --quiet --filter "label=com.docker.compose.project=$project")
  [[ ${#volumes[@]} -eq 0 ]] || run docker volume rm "${volumes[@]}"
  mapfile -t networks < <(docker network ls --quiet --filter "label=com.docker.compose.project=$project")
  [[ ${#networks[@]} -eq 0 ]] || run docker network rm "${networks[@]}"

  echo "== images built for the compose project $project"
  remove_images "label=rideshare.compose-project=$project"

  if [[ $stand_ins -eq 1 ]]; then
    echo "== local stand-in images"
    # Images built on a stand-in inherit its label, hence the name filter too.
    remove_last='^local/debian:'
    remove_images label=rideshare.stand-in 'reference=local/*'
  fi

  exit "$status"
}

main "$@"
