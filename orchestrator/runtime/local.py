"""Workers and their FerretDB stores as processes on this machine (development and tests)."""

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from common.config import settings
from orchestrator.runtime import Runtime, WorkerHandle
from worker.store_process import die_with_parent

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalRuntime(Runtime):
    """Each worker is `python3 -m worker` in its own process group with its own FerretDB.

    Workers die with the orchestrator process (PR_SET_PDEATHSIG), so a stopped
    test leaves nothing running; a restarted local orchestrator starts a new cluster.
    """

    def __init__(self) -> None:
        self.root = Path(settings.local_data_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self._processes: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def spawn(self) -> WorkerHandle:
        worker_id = uuid.uuid4().hex[:12]
        data_dir = self.root / worker_id
        data_dir.mkdir(parents=True)
        port = _free_port()
        store = (
            # synchronous(NORMAL): no fsync per commit, because a store is rebuilt from the log anyway.
            f"{settings.ferretdb_bin} --handler=sqlite --sqlite-url=file:{data_dir}/?_pragma=synchronous(NORMAL) "
            f"--state-dir={data_dir} "
            f"--listen-addr=127.0.0.1:{port} --debug-addr=- --telemetry=disable --log-level=warn"
        )
        env = dict(os.environ, WORKER_ID=worker_id, STORE_URL=f"mongodb://127.0.0.1:{port}", STORE_PROCESS=store)
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        log = open(self.root / f"{worker_id}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "worker"], cwd=PROJECT_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
        )
        log.close()
        with self._lock:
            self._processes[worker_id] = process
        return WorkerHandle(worker_id, process.pid)

    def list(self) -> list[WorkerHandle]:
        with self._lock:
            items = list(self._processes.items())
        alive = []
        for worker_id, process in items:
            if process.poll() is None:
                alive.append(WorkerHandle(worker_id, process.pid))
            else:
                self._forget(worker_id, process)
        return alive

    def _forget(self, worker_id: str, process: subprocess.Popen) -> None:
        # The store process shares the worker's process group: make sure it is gone too.
        self._signal_group(process, signal.SIGKILL)
        with self._lock:
            self._processes.pop(worker_id, None)
        shutil.rmtree(self.root / worker_id, ignore_errors=True)

    def kill(self, worker_id: str) -> None:
        process = self._processes.get(worker_id)
        if process is not None:
            self._signal_group(process, signal.SIGKILL)
            process.wait()

    def stop(self, worker_id: str) -> None:
        process = self._processes.get(worker_id)
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)

    def close(self) -> None:
        for worker_id in list(self._processes):
            self.kill(worker_id)

    @staticmethod
    def _signal_group(process: subprocess.Popen, signum: int) -> None:
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
