"""The control plane: one RPC client, one cluster view, one runtime, one reconciliation loop."""

import logging
from concurrent.futures import ThreadPoolExecutor

from common import broker
from common.config import settings
from orchestrator.autoscaler import Autoscaler
from orchestrator.cluster import ClusterView
from orchestrator.reconciler import Reconciler
from orchestrator.rpc import RpcClient, RpcTimeout
from orchestrator.runtime import create_runtime

logger = logging.getLogger(__name__)

STATUS_TIMEOUT = 2.0
DIGEST_TIMEOUT = 60.0


class NoSuchWorker(Exception):
    """crash/master or crash/slave found no worker of that role (HTTP 400)."""


class ControlPlane:
    def __init__(self, rpc: RpcClient, cluster: ClusterView, reconciler: Reconciler) -> None:
        self.rpc = rpc
        self.cluster = cluster
        self.reconciler = reconciler
        self.autoscaler = reconciler.autoscaler
        self._status_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="status")

    @classmethod
    def start(cls) -> "ControlPlane":
        """Connect to ZooKeeper and the broker and start the reconciliation loop (blocks until ZooKeeper responds)."""
        runtime = create_runtime(settings.runtime)
        cluster = ClusterView()
        autoscaler = Autoscaler(
            settings.autoscale_window, settings.reads_per_slave, settings.min_slaves, settings.max_slaves
        )
        reconciler = Reconciler(runtime, cluster, autoscaler)
        rpc = RpcClient()
        reconciler.start()
        logger.info("orchestrator started with the %s runtime", settings.runtime)
        return cls(rpc, cluster, reconciler)

    def write(self, body: dict):
        return self._call(settings.write_queue, body, settings.rpc_timeout)

    def read(self, body: dict):
        # A worker may hold a read with `after` for read_wait before it replies 503 itself.
        return self._call(settings.read_queue, body, settings.rpc_timeout + settings.read_wait)

    def _call(self, queue_name: str, body: dict, timeout: float):
        try:
            return self.rpc.call(queue_name, body, timeout)
        except RpcTimeout as error:
            logger.warning("request on %s timed out: %s", queue_name, error)
            return error

    def worker_pids(self) -> list:
        return sorted(handle.pid for handle in self.reconciler.runtime.list())

    def crash_master(self) -> int:
        leader = self.cluster.leader()
        handle = self.reconciler.known.get(leader) if leader else None
        if handle is None:
            raise NoSuchWorker("no master is running")
        self.reconciler.kill(handle.id)
        logger.info("crash/master killed worker %s (pid %s)", handle.id, handle.pid)
        return handle.pid

    def crash_slave(self) -> int:
        leader = self.cluster.leader()
        slaves = [h for h in self.reconciler.runtime.list() if h.id != leader]
        if not slaves:
            raise NoSuchWorker("no slave is running")
        victim = max(slaves, key=lambda h: h.pid)
        self.reconciler.kill(victim.id)
        logger.info("crash/slave killed worker %s (pid %s)", victim.id, victim.pid)
        return victim.pid

    def status(self, digest: bool = False) -> dict:
        """Return every worker's role, state, position and lag, and the log head.

        With `digest`, each worker also hashes all its data, which blocks its
        loop for a time that grows with the data: tests and operators ask for
        it, health checks do not.
        """
        handles = self.reconciler.runtime.list()
        registered = self.cluster.statuses()
        leader = self.cluster.leader()
        futures = {
            h.id: self._status_pool.submit(self._worker_status, h.id, digest) for h in handles if h.id in registered
        }
        workers = []
        for handle in sorted(handles, key=lambda h: h.pid):
            entry = {"id": handle.id, "pid": handle.pid, "master": handle.id == leader}
            entry.update(registered.get(handle.id, {"state": "starting"}))
            if handle.id in futures:
                entry.update(futures[handle.id].result())
            entry["pid"] = handle.pid
            workers.append(entry)
        positions = [w["position"] for w in workers if w.get("position") is not None]
        head = max(positions) if positions else None
        for worker in workers:
            if head is not None and worker.get("position") is not None:
                worker["lag"] = head - worker["position"]
        return {"log_head": head, "master": leader, "workers": workers, "autoscaler": self.autoscaler.snapshot()}

    def _worker_status(self, worker_id: str, digest: bool) -> dict:
        timeout = DIGEST_TIMEOUT if digest else STATUS_TIMEOUT
        try:
            reply = self.rpc.call(broker.control_queue(worker_id), {"digest": digest}, timeout)
        except RpcTimeout:
            return {"digest": None} if digest else {}
        body = reply["body"]
        return {key: body[key] for key in ("digest", "documents", "position", "role", "state") if key in body}

    def health(self) -> dict:
        leader = self.cluster.leader()
        registered = self.cluster.statuses()
        master_serving = leader is not None and registered.get(leader, {}).get("role") == "master"
        return {"ok": self.rpc.connected.is_set() and master_serving, "broker": self.rpc.connected.is_set(),
                "master": leader if master_serving else None, "workers": len(registered)}
