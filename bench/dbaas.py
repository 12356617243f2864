"""DBaaS benchmark: throughput, failover, catch-up, scale-out and memory, per runtime.

Run: python3 -m bench.dbaas [--runtime local|docker|both] [--seconds 20] [--clients 16]
     [--catch-up 10000 100000] [--report bench/results.md]

The local runtime starts its own RabbitMQ, ZooKeeper and cluster on 127.0.0.1;
the docker runtime starts the compose stack under its own project name
(tests/compose.py) on the images of images/local.env when that file exists.
Each starts with 1 master and 2 slaves. Every load is bounded in count and
time. The figures are printed as they come, and as a table at the end.
"""

import argparse
import platform
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.load import children_of, resident_kib, run_load
from tests.cluster import LocalCluster, wait_for
from tests.servers import RabbitMQServer, ZooKeeperServer

SCALE_WINDOW = 20


def post(target, path: str, body=None, timeout: float = 30):
    return target.session.post(target.url + path, json=body, timeout=timeout)


def write_throughput(target, clients: int, seconds: float) -> dict:
    name = "bw" + uuid.uuid4().hex[:6]

    def write(session, n):
        response = session.post(target.url + "/api/v1/db/write", timeout=30, json={
            "collection": name, "op": "insert", "document": {"_id": n, "n": n, "text": "x" * 64}})
        return response.status_code == 200

    return run_load(write, clients, seconds).summary()


def read_throughput(target, clients: int, seconds: float) -> dict:
    """Reads by a field on a 100-document collection (FerretDB scans it for each read)."""
    name = "br" + uuid.uuid4().hex[:6]
    target.write({"collection": name, "op": "insert", "documents": [{"_id": i, "n": i} for i in range(100)]})
    target.wait_for_convergence()

    def read(session, n):
        response = session.post(target.url + "/api/v1/db/read", timeout=30, json={
            "collection": name, "filter": {"n": n % 100}})
        return response.status_code == 200

    return run_load(read, clients, seconds).summary()


def failover_seconds(target) -> float:
    """Return seconds from crash/master (SIGKILL) to the first acknowledged write."""
    name = "bf" + uuid.uuid4().hex[:6]
    killed_at = time.monotonic()
    post(target, "/api/v1/crash/master")
    n = 0
    while time.monotonic() - killed_at < 60:
        n += 1
        if post(target, "/api/v1/db/write", {"collection": name, "op": "insert", "document": {"_id": n}}).ok:
            return time.monotonic() - killed_at
    raise RuntimeError("no write acknowledged within 60 s of the crash")


def append_entries(target, entries: int, clients: int) -> None:
    """Append about `entries` log entries: one single-document write each, bounded to 30 minutes."""
    name = "bc" + uuid.uuid4().hex[:6]

    def write(session, n):
        response = session.post(target.url + "/api/v1/db/write", timeout=30, json={
            "collection": name, "op": "insert", "document": {"n": n, "text": "x" * 64}})
        return response.status_code == 200

    run_load(write, clients, seconds=1800, max_ops=entries)


def new_worker_serving(target, before: set):
    for worker in target.status()["workers"]:
        if worker["id"] not in before and worker.get("state") == "serving":
            return worker
    return None


def catch_up(target) -> dict:
    """Time a replacement worker from crash/slave to serving: spawn, store start and replay of the whole log."""
    wait_for(lambda: len({w.get("position") for w in target.status()["workers"]}) == 1, 300, "equal positions")
    before = {w["id"] for w in target.status()["workers"]}
    head = target.status()["log_head"]
    crashed_at = time.monotonic()
    post(target, "/api/v1/crash/slave")
    wait_for(lambda: new_worker_serving(target, before), 900, "the new worker to serve", interval=0.05)
    # The master logs each delivery batch of writes as one entry, so there are fewer entries than writes.
    return {"seconds": round(time.monotonic() - crashed_at, 2), "log_entries": head + 1}


def scale_out_seconds(target) -> float:
    """Return seconds from the autoscaler raising the target to a new slave serving reads."""
    before = {w["id"] for w in target.status()["workers"]}
    for _ in range(45):
        post(target, "/api/v1/db/read", {"collection": "scale", "filter": {}})
    wait_for(lambda: target.status()["autoscaler"]["target_slaves"] > 1, SCALE_WINDOW * 3,
             "the autoscaler to raise the target", interval=0.05)
    decided_at = time.monotonic()
    wait_for(lambda: new_worker_serving(target, before), 300, "a new slave to serve", interval=0.05)
    return time.monotonic() - decided_at


def local_memory(cluster) -> dict:
    master = cluster.master()
    return {
        "orchestrator_mib": round(sum(resident_kib(p) for p in children_of(cluster.process.pid)) / 1024, 1),
        "worker_mib": round(resident_kib(master["pid"]) / 1024, 1),
        "store_mib": round(sum(resident_kib(p) for p in children_of(master["pid"])) / 1024, 1),
    }


def docker_memory(stack) -> dict:
    def usage_mib(container) -> float:
        stats = container.stats(stream=False)["memory_stats"]
        return round((stats.get("usage", 0) - stats.get("stats", {}).get("inactive_file", 0)) / 2**20, 1)

    master_id = stack.master()["id"]
    labels = [f"rideshare.worker={master_id}"]
    worker = stack.client.containers.list(filters={"label": labels + ["rideshare.kind=worker"]})[0]
    store = stack.client.containers.list(filters={"label": labels + ["rideshare.kind=store"]})[0]
    project = stack.env["COMPOSE_PROJECT_NAME"]
    orchestrator = stack.client.containers.list(filters={"label": [
        f"com.docker.compose.project={project}", "com.docker.compose.service=orchestrator"]})[0]
    return {"orchestrator_mib": usage_mib(orchestrator), "worker_mib": usage_mib(worker), "store_mib": usage_mib(store)}


# The main cluster keeps exactly 2 slaves, so the load does not trigger autoscaling;
# a second cluster with a short window measures scale-out.
FIXED_SHAPE = {"MIN_SLAVES": "2", "MAX_SLAVES": "2"}
SCALING = {"MIN_SLAVES": "1", "MAX_SLAVES": "3", "AUTOSCALE_WINDOW": str(SCALE_WINDOW)}


def measure(target, args, memory, report) -> None:
    report("writes", write_throughput(target, args.clients, args.seconds))
    report("reads", read_throughput(target, args.clients, args.seconds))
    report("memory", memory(target))
    report("failover_s", round(failover_seconds(target), 2))
    target.wait_for_serving(3, timeout=120)
    appended = 0
    for writes in sorted(args.catch_up):
        append_entries(target, writes - appended, args.clients)
        appended = writes
        report(f"catch_up_{writes}_writes", catch_up(target))


def run_local(args, report) -> None:
    with RabbitMQServer() as rabbitmq, ZooKeeperServer() as zookeeper:
        with LocalCluster(rabbitmq.url, zookeeper.hosts, Path(tempfile.mkdtemp()), **FIXED_SHAPE) as cluster:
            cluster.start(slaves=2)
            measure(cluster, args, local_memory, report)
        with LocalCluster(rabbitmq.url, zookeeper.hosts, Path(tempfile.mkdtemp()), **SCALING) as cluster:
            cluster.start(slaves=1)
            report("scale_out_s", round(scale_out_seconds(cluster), 2))


def run_docker(args, report) -> None:
    from tests.compose import Stack, clean

    for settings, slaves in ((FIXED_SHAPE, 2), (SCALING, 1)):
        stack = Stack()
        stack.env.update(settings, COMPOSE_PROJECT_NAME="rideshare-bench", DOCKER_NETWORK="rideshare-bench")
        try:
            stack.up()
            stack.wait_for_serving(1 + slaves, timeout=180)
            if slaves == 2:
                measure(stack, args, docker_memory, report)
            else:
                report("scale_out_s", round(scale_out_seconds(stack), 2))
        finally:
            clean(stack)


def machine() -> str:
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    with open("/proc/meminfo") as meminfo:
        memory_gib = int(meminfo.readline().split()[1]) / 2**20
    return f"{platform.platform()}, {cpu} cores, {memory_gib:.0f} GiB, Python {platform.python_version()}"


def write_report(path: Path, results: dict, args) -> None:
    lines = [
        "# DBaaS benchmark results", "",
        f"Machine: {machine()}. Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Command: `python3 -m bench.dbaas --runtime {args.runtime} --seconds {args.seconds:g} "
        f"--clients {args.clients} --catch-up {' '.join(map(str, args.catch_up))}`.",
        "Each cluster: 1 master + 2 slaves (scale-out: 1 slave, window "
        f"{SCALE_WINDOW} s, 45 reads), FerretDB 1.24 (SQLite) stores; the load generator runs on the same "
        "machine and shares its cores.", "",
        "| figure | " + " | ".join(results) + " |",
        "|---|" + "---|" * len(results),
    ]
    names = list(dict.fromkeys(name for figures in results.values() for name in figures))
    for name in names:
        cells = [format_cell(figures.get(name)) for figures in results.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Legend: throughput rows give operations per second and p50/p99 latency in ms "
              f"({args.clients} concurrent clients, {args.seconds:g} s); failover is crash/master to the first "
              "acknowledged write; scale-out is the autoscaler raising its target to a new slave serving; "
              "catch-up is crash/slave to its replacement serving, after that many single-document writes "
              "(the replacement replays the whole log; the master logs a batch of writes as one entry); "
              "memory is resident memory (local) or container "
              "memory less page cache (docker)."]
    path.write_text("\n".join(lines) + "\n")


def format_cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict) and "per_second" in value:
        return f"{value['per_second']}/s, p50 {value['p50_ms']} ms, p99 {value['p99_ms']} ms, {value['errors']} errors"
    if isinstance(value, dict) and "log_entries" in value:
        return f"{value['seconds']} s ({value['log_entries']} log entries)"
    if isinstance(value, dict):
        return ", ".join(f"{k.removesuffix('_mib')} {v} MiB" for k, v in value.items())
    return f"{value} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=["local", "docker", "both"], default="local")
    parser.add_argument("--seconds", type=float, default=20, help="duration of each throughput run, in seconds")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--catch-up", type=int, nargs="+", default=[10000],
                        help="numbers of single-document writes after which a new worker's catch-up is timed")
    parser.add_argument("--report", type=Path, help="write a Markdown table to this file")
    args = parser.parse_args()

    results: dict = {}
    runtimes = ["local", "docker"] if args.runtime == "both" else [args.runtime]
    for runtime in runtimes:
        figures = results.setdefault(runtime, {})

        def report(name, value, figures=figures, runtime=runtime):
            figures[name] = value
            print(f"{runtime} {name}: {value}", flush=True)

        (run_local if runtime == "local" else run_docker)(args, report)
    if args.report:
        write_report(args.report, results, args)
        print(args.report.read_text())


if __name__ == "__main__":
    main()
