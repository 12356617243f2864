#!/usr/bin/env bash
# List this project's Docker objects: the compose stack's containers, the
# worker and store containers that the orchestrator started (label
# rideshare.project=<project>), the images built for the project, the local
# stand-in images, and the project's volumes and networks. It changes nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# The compose project: COMPOSE_PROJECT_NAME from the environment, else from .env.
project=${COMPOSE_PROJECT_NAME:-$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' .env 2>/dev/null)}
project=${project:-rideshare}

echo "== containers of the compose project $project"
docker ps --all --filter "label=com.docker.compose.project=$project" \
  --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}\t{{.Ports}}'

echo
echo "== containers started by the orchestrator (label rideshare.project=$project)"
docker ps --all --filter "label=rideshare.project=$project" \
  --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}\t{{.Label "rideshare.kind"}}'

echo
echo "== images built for the compose project $project"
docker image ls --filter "label=rideshare.compose-project=$project"

echo
# Images built on a stand-in inherit its label, hence the name filter too.
echo "== local stand-in images (from images/build_local_images.sh)"
docker image ls --filter label=rideshare.stand-in --filter 'reference=local/*'

echo
echo "== volumes of the compose project $project"
docker volume ls --filter "label=com.docker.compose.project=$project"

echo
echo "== networks of the compose project $project"
docker network ls --filter "label=com.docker.compose.project=$project"
