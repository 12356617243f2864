"""Leader election by lowest pid, on kazoo's ChildrenWatch recipe.

kazoo's own Election recipe orders contenders by arrival. Our rule is that
the master is the live contender with the lowest pid, so that crash/slave
(which kills the highest pid) never hits the master. Ordering the contender
znodes by a zero-padded pid gives that rule with the same ZooKeeper guarantees.

Usage::

    election = PidElection(zk, "/rideshare/election", worker_id, pid)
    election.join()            # after catching up with the log
    if election.is_leader(): ...

`is_leader` never blocks; the watch updates the contender list from kazoo's
thread, so a caller polls it from its own loop.
"""

import threading

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError


def contender_name(pid: int, worker_id: str) -> str:
    return f"{pid:010d}-{worker_id}"


def leader_of(children: list) -> str | None:
    """Return the worker id of the contender with the lowest pid."""
    if not children:
        return None
    return min(children).split("-", 1)[1]


class PidElection:
    def __init__(self, zk: KazooClient, path: str, worker_id: str, pid: int) -> None:
        self.zk = zk
        self.path = path
        self.worker_id = worker_id
        self.node = f"{path}/{contender_name(pid, worker_id)}"
        self._lock = threading.Lock()
        self._children: list = []
        self._joined = False
        zk.ensure_path(path)
        zk.ChildrenWatch(path, self._on_children)

    def _on_children(self, children: list) -> None:
        with self._lock:
            self._children = list(children)

    def join(self) -> None:
        """Create this worker's ephemeral contender znode (blocks on ZooKeeper)."""
        self.zk.create(self.node, self.worker_id.encode(), ephemeral=True)
        self._joined = True

    def leader(self) -> str | None:
        with self._lock:
            return leader_of(self._children)

    def is_leader(self) -> bool:
        return self._joined and self.leader() == self.worker_id

    def still_contending(self) -> bool:
        """Tell whether our znode still exists; the orchestrator deletes the znodes of dead workers."""
        try:
            return self.zk.exists(self.node) is not None
        except NoNodeError:
            return False
