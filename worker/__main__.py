"""Entry point: `python3 -m worker`. Settings come from the environment (common.config)."""

import logging
import os
import sys
import time

from kazoo.client import KazooClient

from common.config import settings
from worker import store_process
from worker.node import Fatal, Worker, install_signal_handlers
from worker.store import Store

logger = logging.getLogger("worker")

PID_WAIT = 60.0


def wait_for_pid(zk: KazooClient, worker_id: str) -> int:
    """Return the pid the runtime recorded for this worker.

    In a container the worker's own pid is 1. The runtime reads the pid on the
    host (the one worker/list shows) and writes it to ZooKeeper at spawn.
    """
    path = f"{settings.zk_root}/pids/{worker_id}"
    deadline = time.monotonic() + PID_WAIT
    while time.monotonic() < deadline:
        if zk.exists(path):
            data, _ = zk.get(path)
            return int(data)
        time.sleep(0.1)
    raise Fatal(f"no pid recorded at {path} within {PID_WAIT} s")


def main() -> int:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    if not settings.worker_id:
        logger.error("WORKER_ID is not set; the runtime that spawns a worker sets it")
        return 2
    if settings.store_process:
        store_process.start(settings.store_process)

    store = Store(settings.store_url, settings.store_database)
    store.wait_ready()
    zk = KazooClient(hosts=settings.zookeeper_hosts, timeout=settings.zk_session_timeout)
    zk.start(timeout=30)
    try:
        pid = wait_for_pid(zk, settings.worker_id)
        worker = Worker(settings.worker_id, pid, store, zk)
        install_signal_handlers(worker)
        worker.run()
    except Fatal as error:
        logger.error("worker=%s exiting: %s", settings.worker_id, error)
        # os._exit skips cleanup on purpose: no reply or ack may be sent after this.
        os._exit(1)
    except Exception:
        logger.exception("worker=%s exiting on an unexpected error", settings.worker_id)
        os._exit(1)
    zk.stop()
    logger.info("worker=%s stopped", settings.worker_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
