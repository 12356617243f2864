"""The one loop that keeps the cluster at 1 master + the target number of slaves.

Crash handling and autoscaling never spawn or stop workers themselves: they
change the target or kill a worker, and this loop notices the difference, so
two paths never both spawn for one gap.
"""

import logging
import threading
import time

from common.config import settings
from orchestrator.autoscaler import Autoscaler
from orchestrator.cluster import ClusterView
from orchestrator.runtime import Runtime, WorkerHandle

logger = logging.getLogger(__name__)


def plan(alive: int, stopping: int, has_leader: bool, target_slaves: int) -> int:
    """Return how many workers to spawn (positive) or stop (negative).

    The first worker starts alone and no slave starts before a master is
    elected, so the first master has the lowest pid.
    """
    running = alive - stopping
    if alive == 0:
        return 1
    if not has_leader:
        return 0
    return (1 + target_slaves) - running


class Reconciler:
    def __init__(self, runtime: Runtime, cluster: ClusterView, autoscaler: Autoscaler) -> None:
        self.runtime = runtime
        self.cluster = cluster
        self.autoscaler = autoscaler
        self.lock = threading.RLock()
        self.known: dict[str, WorkerHandle] = {}
        self.stopping: set = set()
        self.registered: set = set()
        self.wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="reconciler", daemon=True)

    def start(self) -> None:
        with self.lock:
            self._adopt()
        self._thread.start()

    def _adopt(self) -> None:
        """Take over workers a previous orchestrator left running (docker runtime)."""
        for handle in self.runtime.list():
            self.known[handle.id] = handle
            logger.info("adopted running worker %s (pid %s)", handle.id, handle.pid)

    def _run(self) -> None:
        while not self._closing:
            try:
                self.reconcile()
            except Exception:
                logger.exception("reconciliation failed; retrying")
            self.wake.wait(settings.reconcile_interval)
            self.wake.clear()

    def reconcile(self) -> None:
        with self.lock:
            changed = self.autoscaler.tick(time.monotonic())
            if changed is not None:
                logger.info("autoscaler set the target to %s slave(s)", changed)
            alive = self._observe_deaths()
            leader = self.cluster.leader()
            delta = plan(len(alive), len(self.stopping), leader is not None, self.autoscaler.target)
            if delta > 0:
                for _ in range(delta):
                    self._spawn()
            elif delta < 0:
                self._scale_in(alive, leader, -delta)

    def _observe_deaths(self) -> list:
        alive = self._kill_unregistered(self.runtime.list())
        alive_ids = {handle.id for handle in alive}
        for worker_id, handle in list(self.known.items()):
            if worker_id not in alive_ids:
                self.forget(worker_id)
                logger.info("worker %s (pid %s) exited; removed its znodes", worker_id, handle.pid)
        for worker_id in self.cluster.recorded_pids():
            if worker_id not in alive_ids:
                self.cluster.remove(worker_id)
        for handle in alive:
            self.known.setdefault(handle.id, handle)
        return alive

    def _kill_unregistered(self, alive: list) -> list:
        """Kill running workers whose ZooKeeper registration expired; return the others.

        Such a worker is frozen or cut off (a paused process or container, a
        lost network). It would exit on its own once it runs again, but until
        then the broker keeps its unacknowledged requests. Killing it closes
        its connections, so the broker hands them to the live workers at once.
        """
        if not settings.kill_expired_workers:
            return alive
        registered = set(self.cluster.registered())
        survivors = []
        for handle in alive:
            if handle.id in registered:
                self.registered.add(handle.id)
            elif handle.id in self.registered and handle.id not in self.stopping:
                logger.warning("worker %s (pid %s) lost its ZooKeeper session while running; killing it",
                               handle.id, handle.pid)
                self.runtime.kill(handle.id)
                self.forget(handle.id)
                continue
            survivors.append(handle)
        return survivors

    def forget(self, worker_id: str) -> None:
        self.known.pop(worker_id, None)
        self.stopping.discard(worker_id)
        self.registered.discard(worker_id)
        self.cluster.remove(worker_id)

    def _spawn(self) -> None:
        handle = self.runtime.spawn()
        self.known[handle.id] = handle
        self.cluster.record_pid(handle.id, handle.pid)
        logger.info("spawned worker %s (pid %s)", handle.id, handle.pid)

    def _scale_in(self, alive: list, leader: str | None, count: int) -> None:
        slaves = [h for h in alive if h.id != leader and h.id not in self.stopping]
        for handle in sorted(slaves, key=lambda h: h.pid, reverse=True)[:count]:
            self.stopping.add(handle.id)
            self.runtime.stop(handle.id)
            logger.info("stopping slave %s (pid %s) to scale in", handle.id, handle.pid)

    def kill(self, worker_id: str) -> None:
        """Kill a worker and remove its znodes at once; the loop spawns its replacement."""
        with self.lock:
            self.runtime.kill(worker_id)
            self.forget(worker_id)
        self.wake.set()

    def close(self) -> None:
        self._closing = True
        self.wake.set()
