"""Remove the worker containers of a compose project when the stack stops.

Runs as the compose service `worker-cleanup`, which starts before the
orchestrator and so stops after it. Compose cannot remove the project's
network while the workers the orchestrator spawned are still attached, so
`docker compose down` would fail without this. `restart orchestrator` leaves
this service alone, so a restarted orchestrator adopts the running workers.
"""

import logging
import os
import signal
import sys

import docker

logger = logging.getLogger("worker_cleanup")


def remove_workers(label: str) -> None:
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": label}):
        logger.info("removing %s", container.name)
        container.remove(force=True, v=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    label = "rideshare.project=" + os.environ.get("PROJECT_NAME", "rideshare")

    def on_stop(signal_number, frame) -> None:
        remove_workers(label)
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_stop)
    logger.info("waiting for the stack to stop; then removing containers labelled %s", label)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
