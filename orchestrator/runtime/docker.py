"""Workers as containers of the worker image, each with a store container in its network namespace.

Every container this runtime creates carries the project's labels. It lists,
kills and removes only containers with those labels, and no request can name
a container. A worker's pid is its container's main process on the host.
"""

import logging
import threading
import uuid

import docker
from docker.errors import APIError, NotFound

from common.config import settings, worker_environment
from orchestrator.runtime import Runtime, WorkerHandle

logger = logging.getLogger(__name__)

PROJECT_LABEL = "rideshare.project"
KIND_LABEL = "rideshare.kind"
WORKER_LABEL = "rideshare.worker"
STORE_PORT = 27017


class DockerRuntime(Runtime):
    def __init__(self) -> None:
        self.client = docker.from_env()
        self._pids: dict[str, int] = {}
        self._lock = threading.Lock()

    def _labels(self, kind: str, worker_id: str) -> dict:
        return {PROJECT_LABEL: settings.project, KIND_LABEL: kind, WORKER_LABEL: worker_id}

    def _containers(self, kind: str, worker_id: str | None = None) -> list:
        labels = [f"{PROJECT_LABEL}={settings.project}", f"{KIND_LABEL}={kind}"]
        if worker_id is not None:
            labels.append(f"{WORKER_LABEL}={worker_id}")
        return self.client.containers.list(all=True, sparse=True, filters={"label": labels})

    def spawn(self) -> WorkerHandle:
        worker_id = uuid.uuid4().hex[:12]
        environment = dict(worker_environment(), WORKER_ID=worker_id,
                           STORE_URL=f"mongodb://127.0.0.1:{STORE_PORT}")
        worker = self.client.containers.run(
            settings.worker_image, detach=True, name=f"{settings.project}-worker-{worker_id}",
            labels=self._labels("worker", worker_id), environment=environment,
            network=settings.docker_network,
        )
        # The store joins the worker's network namespace, so the worker reaches it
        # on 127.0.0.1 and nothing else on the network can.
        self.client.containers.run(
            settings.store_image, command=settings.store_command or None, detach=True,
            name=f"{settings.project}-store-{worker_id}", labels=self._labels("store", worker_id),
            network_mode=f"container:{worker.id}",
        )
        worker.reload()
        pid = worker.attrs["State"]["Pid"]
        with self._lock:
            self._pids[worker_id] = pid
        return WorkerHandle(worker_id, pid)

    def list(self) -> list[WorkerHandle]:
        alive = []
        for container in self._containers("worker"):
            worker_id = container.attrs["Labels"][WORKER_LABEL]
            state = container.attrs["State"]
            if state in ("running", "paused"):
                # A paused worker is frozen, not dead: the fault tests pause masters.
                pid = self._pid(worker_id, container.id)
                if pid:
                    alive.append(WorkerHandle(worker_id, pid))
            elif state in ("exited", "dead"):
                self._remove(worker_id)
        self._remove_orphan_stores({handle.id for handle in alive})
        return alive

    def _pid(self, worker_id: str, container_id: str) -> int:
        with self._lock:
            pid = self._pids.get(worker_id)
        if pid is None:
            try:
                container = self.client.containers.get(container_id)
            except NotFound:
                return 0
            pid = container.attrs["State"]["Pid"]
            with self._lock:
                self._pids[worker_id] = pid
        return pid

    def _remove_orphan_stores(self, alive_ids: set) -> None:
        workers = {c.attrs["Labels"][WORKER_LABEL] for c in self._containers("worker")}
        for store in self._containers("store"):
            worker_id = store.attrs["Labels"][WORKER_LABEL]
            if worker_id not in alive_ids and worker_id not in workers:
                self._remove(worker_id)

    def _remove(self, worker_id: str) -> None:
        """Remove a worker's containers, worker and store, whatever their state."""
        for kind in ("worker", "store"):
            for container in self._containers(kind, worker_id):
                try:
                    container.remove(force=True, v=True)
                except NotFound:
                    pass
                except APIError as error:
                    logger.warning("could not remove %s container of worker %s: %s", kind, worker_id, error)
        with self._lock:
            self._pids.pop(worker_id, None)

    def kill(self, worker_id: str) -> None:
        for container in self._containers("worker", worker_id):
            try:
                container.kill(signal="SIGKILL")
            except (NotFound, APIError) as error:
                logger.warning("could not kill worker %s: %s", worker_id, error)
        self._remove(worker_id)

    def stop(self, worker_id: str) -> None:
        for container in self._containers("worker", worker_id):
            try:
                container.kill(signal="SIGTERM")
            except (NotFound, APIError) as error:
                logger.warning("could not stop worker %s: %s", worker_id, error)

    def close(self) -> None:
        # Workers keep running: a restarted orchestrator adopts them.
        self.client.close()
