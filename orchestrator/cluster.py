"""The orchestrator's view of the cluster in ZooKeeper: members, leader, pids."""

import json
import logging

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from common.config import settings
from worker.election import leader_of

logger = logging.getLogger(__name__)


class ClusterView:
    """Reads and cleans the znodes the workers register. Every method blocks on ZooKeeper."""

    def __init__(self) -> None:
        self.zk = KazooClient(hosts=settings.zookeeper_hosts, timeout=settings.zk_session_timeout)
        self.zk.start(timeout=60)
        root = settings.zk_root
        self.workers_path = f"{root}/workers"
        self.election_path = f"{root}/election"
        self.pids_path = f"{root}/pids"
        for path in (self.workers_path, self.election_path, self.pids_path):
            self.zk.ensure_path(path)

    def record_pid(self, worker_id: str, pid: int) -> None:
        self.zk.create(f"{self.pids_path}/{worker_id}", str(pid).encode(), makepath=True)

    def recorded_pids(self) -> dict:
        pids = {}
        for worker_id in self.zk.get_children(self.pids_path):
            try:
                data, _ = self.zk.get(f"{self.pids_path}/{worker_id}")
            except NoNodeError:
                continue
            pids[worker_id] = int(data)
        return pids

    def leader(self) -> str | None:
        return leader_of(self.zk.get_children(self.election_path))

    def registered(self) -> list:
        """Return the ids of the workers whose ZooKeeper session is alive."""
        return self.zk.get_children(self.workers_path)

    def statuses(self) -> dict:
        """Return each registered worker's status: role, state, applied position."""
        result = {}
        for worker_id in self.zk.get_children(self.workers_path):
            try:
                data, _ = self.zk.get(f"{self.workers_path}/{worker_id}")
            except NoNodeError:
                continue
            result[worker_id] = json.loads(data)
        return result

    def remove(self, worker_id: str) -> None:
        """Delete a dead worker's znodes at once, so failover need not wait for its session to expire."""
        paths = [f"{self.workers_path}/{worker_id}", f"{self.pids_path}/{worker_id}"]
        paths += [
            f"{self.election_path}/{child}"
            for child in self.zk.get_children(self.election_path)
            if child.endswith(f"-{worker_id}")
        ]
        for path in paths:
            try:
                self.zk.delete(path)
            except NoNodeError:
                pass

    def close(self) -> None:
        self.zk.stop()
        self.zk.close()
