"""DBaaS benchmark on a local cluster (1 master, 2 slaves): throughput, failover, catch-up, memory.

Run: python3 -m bench.dbaas [--seconds 20] [--clients 16] [--catch-up 10000]
It starts its own RabbitMQ, ZooKeeper and cluster on 127.0.0.1 and prints a table.
"""

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from bench.load import children_of, resident_kib, run_load
from tests.cluster import LocalCluster, wait_for
from tests.servers import RabbitMQServer, ZooKeeperServer


def write_throughput(cluster, clients: int, seconds: float) -> dict:
    name = "bw" + uuid.uuid4().hex[:6]

    def write(session, n):
        response = session.post(cluster.url + "/api/v1/db/write", timeout=30, json={
            "collection": name, "op": "insert", "document": {"_id": n, "n": n, "text": "x" * 64}})
        return response.status_code == 200

    return run_load(write, clients, seconds).summary()


def read_throughput(cluster, clients: int, seconds: float) -> dict:
    name = "br" + uuid.uuid4().hex[:6]
    cluster.write({"collection": name, "op": "insert", "documents": [{"_id": i, "n": i} for i in range(100)]})
    cluster.wait_for_convergence()

    def read(session, n):
        response = session.post(cluster.url + "/api/v1/db/read", timeout=30, json={
            "collection": name, "filter": {"n": n % 100}})
        return response.status_code == 200

    return run_load(read, clients, seconds).summary()


def failover_seconds(cluster) -> float:
    """Return seconds from crash/master (SIGKILL) to the first acknowledged write."""
    name = "bf" + uuid.uuid4().hex[:6]
    killed_at = time.monotonic()
    cluster.post("/api/v1/crash/master")
    n = 0
    while time.monotonic() - killed_at < 60:
        n += 1
        response = cluster.session.post(cluster.url + "/api/v1/db/write", timeout=30, json={
            "collection": name, "op": "insert", "document": {"_id": n}})
        if response.status_code == 200:
            return time.monotonic() - killed_at
    raise RuntimeError("no write acknowledged within 60 s of the crash")


def catch_up_seconds(cluster, entries: int, clients: int) -> float:
    """Append `entries` writes, then time a new worker from spawn to serving."""
    name = "bc" + uuid.uuid4().hex[:6]

    def write(session, n):
        response = session.post(cluster.url + "/api/v1/db/write", timeout=30, json={
            "collection": name, "op": "insert", "document": {"n": n, "text": "x" * 64}})
        return response.status_code == 200

    run_load(write, clients, seconds=900, max_ops=entries)
    wait_for(lambda: len({w.get("position") for w in cluster.status()["workers"]}) == 1, 120, "equal positions")
    before = {w["id"] for w in cluster.status()["workers"]}
    crashed_at = time.monotonic()
    cluster.post("/api/v1/crash/slave")

    def new_worker_serving():
        for worker in cluster.status()["workers"]:
            if worker["id"] not in before and worker.get("state") == "serving":
                return worker
        return None

    wait_for(new_worker_serving, 300, "the new worker to serve", interval=0.05)
    return time.monotonic() - crashed_at


def memory(cluster) -> dict:
    orchestrator = children_of(cluster.process.pid)
    master = cluster.master()
    store = children_of(master["pid"])
    return {
        "orchestrator_mib": round(sum(resident_kib(p) for p in orchestrator) / 1024, 1),
        "worker_mib": round(resident_kib(master["pid"]) / 1024, 1),
        "worker_store_mib": round(sum(resident_kib(p) for p in store) / 1024, 1),
    }


def print_table(rows: list) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="duration of each throughput run, in seconds")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--catch-up", type=int, default=10000, help="log entries a new worker replays")
    args = parser.parse_args()

    rows = [("runtime", "local")]

    def report(name, value):
        rows.append((name, value))
        print(f"{name}: {value}", flush=True)

    with RabbitMQServer() as rabbitmq, ZooKeeperServer() as zookeeper, \
            LocalCluster(rabbitmq.url, zookeeper.hosts, Path(tempfile.mkdtemp()), MIN_SLAVES="2") as cluster:
        cluster.start(slaves=2)
        report(f"writes ({args.clients} clients, {args.seconds:.0f} s)",
               write_throughput(cluster, args.clients, args.seconds))
        report(f"reads ({args.clients} clients, {args.seconds:.0f} s)",
               read_throughput(cluster, args.clients, args.seconds))
        report("resident memory", memory(cluster))
        report("failover: crash/master to first acknowledged write", f"{failover_seconds(cluster):.2f} s")
        cluster.wait_for_serving(3)
        report(f"catch-up: new worker replaying {args.catch_up} entries",
               f"{catch_up_seconds(cluster, args.catch_up, args.clients):.2f} s")
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
