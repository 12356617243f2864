"""A DBaaS cluster in the local runtime for tests and benchmarks.

`LocalCluster` runs the real orchestrator under gunicorn against a given
RabbitMQ and ZooKeeper; the orchestrator spawns real worker processes, each
with its own FerretDB. Each cluster uses its own queue names and ZooKeeper
root, so clusters on one shared broker never see each other's log.
"""

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from collections.abc import Callable

import requests

from tests.servers import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FERRETDB = "/var/cache/rideshare/ferretdb"
_counter = itertools.count(1)


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Poll `condition` until it returns a truthy value; raise AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (requests.RequestException, KeyError, ValueError) as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last_error!r})")


class LocalCluster:
    def __init__(self, rabbitmq_url: str, zookeeper_hosts: str, workdir: Path, **settings: str) -> None:
        name = f"c{next(_counter)}{uuid.uuid4().hex[:6]}"
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True)
        self.env = dict(
            os.environ,
            RUNTIME="local",
            RABBITMQ_URL=rabbitmq_url,
            ZOOKEEPER_HOSTS=zookeeper_hosts,
            ZK_ROOT=f"/rideshare-{name}",
            READ_QUEUE=f"readQ-{name}",
            WRITE_QUEUE=f"writeQ-{name}",
            RESPONSE_QUEUE=f"responseQ-{name}",
            SYNC_QUEUE=f"syncQ-{name}",
            LOCAL_DATA_DIR=str(self.workdir / "workers"),
            FERRETDB_BIN=os.environ.get("FERRETDB_BIN", DEFAULT_FERRETDB),
            ZK_SESSION_TIMEOUT="2",
            PYTHONPATH=str(PROJECT_ROOT),
        )
        self.env.update(settings)
        self.process = None
        self.session = requests.Session()

    def start(self, slaves: int = 1, timeout: float = 60) -> "LocalCluster":
        log = open(self.workdir / "orchestrator.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "32",
             "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "5", "orchestrator.app:create_app()"],
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        wait_for(lambda: self.get("/api/v1/health").status_code == 200, timeout, "a master")
        self.wait_for_serving(1 + slaves, timeout)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        # Workers die with the orchestrator's process (PR_SET_PDEATHSIG).
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # HTTP helpers.

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.url + path, timeout=30)

    def post(self, path: str, body=None, **kwargs) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=30, **kwargs)

    def write(self, body: dict) -> dict:
        response = self.post("/api/v1/db/write", body)
        assert response.status_code == 200, response.text
        return response.json()

    def read(self, body: dict) -> dict:
        response = self.post("/api/v1/db/read", body)
        assert response.status_code == 200, response.text
        return response.json()

    def status(self, digest: bool = False) -> dict:
        return self.get("/api/v1/worker/status" + ("?digest=true" if digest else "")).json()

    def pids(self) -> list:
        return self.get("/api/v1/worker/list").json()

    def master(self) -> dict | None:
        for worker in self.status()["workers"]:
            if worker.get("role") == "master":
                return worker
        return None

    def wait_for_serving(self, count: int, timeout: float = 60) -> list:
        """Wait until exactly `count` workers run and all of them serve; return their statuses."""

        def ready():
            workers = self.status()["workers"]
            serving = [w for w in workers if w.get("state") == "serving" and w.get("role") in ("master", "slave")]
            return workers if len(workers) == count and len(serving) == count else None

        return wait_for(ready, timeout, f"{count} serving workers")

    def wait_for_convergence(self, timeout: float = 60) -> list:
        """Wait until every worker has applied the same position and has the same digest."""

        def converged():
            workers = self.status()["workers"]
            if len({w.get("position") for w in workers}) != 1:
                return None
            workers = self.status(digest=True)["workers"]
            digests = {w.get("digest") for w in workers}
            positions = {w.get("position") for w in workers}
            return workers if len(digests) == 1 and None not in digests and len(positions) == 1 else None

        return wait_for(converged, timeout, "converged replicas", interval=0.3)
