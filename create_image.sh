#!/usr/bin/env bash
# Rebuild the worker image that the orchestrator starts workers from (tag
# $WORKER_IMAGE, default rideshare-worker:latest), through the compose file's
# worker-image service. Without a registry, load images/local.env first so that
# PYTHON_IMAGE names the local Python image.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Compose v2 is a docker plugin, and Compose v1 is the docker-compose program.
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  echo "error: neither 'docker compose' nor 'docker-compose' is installed" >&2
  exit 1
fi

echo "building ${WORKER_IMAGE:-rideshare-worker:latest} from ${PYTHON_IMAGE:-python:3.12-slim} with: ${compose[*]} build worker-image"
"${compose[@]}" build worker-image
docker image ls --filter label=rideshare.image=worker
