"""Fault injection with history checking: no acknowledged write lost, no duplicates, replicas converge.

Writer threads insert documents whose `_id` is their write id through the
orchestrator while faults hit the workers one at a time. Every write attempt
and every fault goes to a JSON-lines history file, and the final data read
from the cluster goes there too, so `analyze` judges a history file alone:

    python3 -m tests.faults --runtime local --seconds 60 --faults 3 --seed 7
    python3 -m tests.faults --rounds 10 --seed 100 --history-dir bench/history
    python3 -m tests.faults --check bench/history/faults-seed7.jsonl

A write is `ok` (200, acknowledged), `failed` (4xx, not applied) or
`unknown` (5xx, timeout, connection error: maybe applied). Writers retry an
unknown write with the same id and record each attempt. The DBaaS applies a
write id once and returns the original response to a retry.
"""

import argparse
import json
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from pathlib import Path

import requests

from tests.cluster import PROJECT_ROOT, wait_for

logger = logging.getLogger(__name__)

# The two ways to kill the master form one group, so three faults give one master kill, one slave kill, one pause.
KIND_GROUPS = (("crash-master", "kill-master"), ("crash-slave",), ("pause-master",), ("partition-master",))
FAULT_KINDS = tuple(kind for group in KIND_GROUPS for kind in group if kind != "partition-master")
WARMUP = 3.0  # seconds of writes before the first fault
TAIL = 5.0  # seconds of writes after the last recovery, to show the cluster serves
MIN_PAUSE = 2.0  # seconds between one fault's recovery and the next fault
RECOVERY_TIMEOUT = 90.0
SETTLE_TIMEOUT = 90.0
MAX_RATE = 500.0  # writes per second over all writers
REQUEST_TIMEOUT = (3.0, 15.0)  # connect and read, seconds. The orchestrator returns 503 after RPC_TIMEOUT (5 s).


class FaultError(RuntimeError):
    """A fault could not be injected (no master to kill, say)."""


class Api:
    """The orchestrator's HTTP API at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()

    def status(self, digest: bool = False) -> dict:
        # Each worker hashes all its data for a digest, and the orchestrator waits up to 60 s for that.
        response = self.session.get(f"{self.url}/api/v1/worker/status", params={"digest": str(digest).lower()},
                                    timeout=(REQUEST_TIMEOUT[0], 90.0) if digest else REQUEST_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=REQUEST_TIMEOUT)


class History:
    """An append-only JSON-lines file of records. Times are seconds since the history began."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.records: list[dict] = []
        self._file = open(path, "w")
        self._lock = threading.Lock()
        self._began = time.monotonic()

    def clock(self) -> float:
        return round(time.monotonic() - self._began, 3)

    def record(self, **fields) -> None:
        with self._lock:
            self.records.append(fields)
            self._file.write(json.dumps(fields) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def load_history(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


class TokenBucket:
    """Allow `rate` operations per second on average, with bursts of at most `burst`."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = burst, time.monotonic()

    def take(self, stop: threading.Event) -> bool:
        """Block until a token is free and take it, or return False if `stop` is set first."""
        while not stop.is_set():
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            stop.wait((1 - self.tokens) / self.rate)
        return False


class Writer(threading.Thread):
    """Insert documents `{"_id": write id}` at a bounded rate until `stop` is set or the deadline passes."""

    def __init__(self, api_url: str, index: int, collection: str, rate: float, retries: int,
                 history: History, stop: threading.Event, deadline: float) -> None:
        super().__init__(name=f"writer-{index}", daemon=True)
        self.url = api_url.rstrip("/") + "/api/v1/db/write"
        self.index, self.collection, self.retries = index, collection, retries
        self.bucket = TokenBucket(rate)
        self.history, self.stop, self.deadline = history, stop, deadline
        self.session = requests.Session()

    def run(self) -> None:
        sequence = 0
        while time.monotonic() < self.deadline:
            write_id = f"{self.collection}-w{self.index}-{sequence}"
            sequence += 1
            for attempt in range(1 + self.retries):
                # Every attempt, retries included, takes a token, so retries stay within the rate.
                if not self.bucket.take(self.stop):
                    return
                if self._attempt(write_id, attempt) != "unknown":
                    break

    def _attempt(self, write_id: str, attempt: int) -> str:
        body = {"collection": self.collection, "op": "insert", "id": write_id,
                "document": {"_id": write_id, "writer": self.index}}
        start = self.history.clock()
        try:
            response = self.session.post(self.url, json=body, timeout=REQUEST_TIMEOUT)
            status, error = response.status_code, (None if response.status_code == 200 else response.text[:200])
        except requests.RequestException as caught:
            status, error = None, repr(caught)[:200]
        # Only a 4xx is known not to have been applied. A 5xx or no response may hide a logged write.
        if status == 200:
            outcome = "ok"
        elif status is not None and 400 <= status < 500:
            outcome = "failed"
        else:
            outcome = "unknown"
        self.history.record(type="write", writer=self.index, id=write_id, attempt=attempt, start=start,
                            end=self.history.clock(), outcome=outcome, status=status, error=error)
        return outcome


class Faults:
    """Fault injection against one cluster, one fault at a time.

    The crash routes of the API work on every runtime. A runtime supplies
    `kill` (SIGKILL the worker behind the orchestrator's back, so that the
    orchestrator must notice the death itself) and `pause` (freeze the worker
    for `seconds`, then resume it).
    """

    kinds = FAULT_KINDS

    def __init__(self, api: Api, session_timeout: float) -> None:
        self.api = api
        self.session_timeout = session_timeout

    def inject(self, kind: str, rng: random.Random) -> dict:
        """Inject one fault and return the pid it hit, as `{"pid": ...}`. Blocks for the whole pause of pause-master."""
        if kind in ("crash-master", "crash-slave"):
            response = self.api.post(f"/api/v1/{kind.replace('-', '/')}")
            if response.status_code != 200:
                raise FaultError(f"{kind} returned {response.status_code}: {response.text[:200]}")
            return {"pid": response.json()[0]}
        masters = [w for w in self.api.status()["workers"] if w.get("role") == "master"]
        if not masters:
            raise FaultError(f"{kind} found no master")
        if kind == "kill-master":
            self.kill(masters[0])
            return {"pid": masters[0]["pid"]}
        if kind == "pause-master":
            # Longer than the ZooKeeper session timeout, so the session expires and another worker takes
            # over. Some pauses also outlast two AMQP heartbeats (10 s by default), so the broker drops the connection.
            seconds = round(self.session_timeout * rng.uniform(2.0, 8.0) + 1.0, 2)
            self.pause(masters[0], seconds)
            return {"pid": masters[0]["pid"], "paused": seconds}
        raise ValueError(f"invalid fault kind {kind!r}: expected one of {', '.join(self.kinds)}")

    def kill(self, worker: dict) -> None:
        raise NotImplementedError

    def pause(self, worker: dict, seconds: float) -> None:
        raise NotImplementedError


class LocalFaults(Faults):
    """Faults for the local runtime, where a worker's pid is its process id on this machine."""

    def kill(self, worker: dict) -> None:
        os.kill(worker["pid"], signal.SIGKILL)

    def pause(self, worker: dict, seconds: float) -> None:
        os.kill(worker["pid"], signal.SIGSTOP)
        try:
            time.sleep(seconds)  # the pause is the fault itself, not a wait for a condition
        finally:
            try:
                os.kill(worker["pid"], signal.SIGCONT)
            except ProcessLookupError:
                logger.warning("paused worker %s (pid %s) died before SIGCONT", worker["id"], worker["pid"])


class DockerFaults(Faults):
    """Faults for the docker runtime: the worker's container, found by its label, is killed, paused or cut off."""

    kinds = FAULT_KINDS + ("partition-master",)

    def __init__(self, api: Api, session_timeout: float, network: str) -> None:
        import docker

        super().__init__(api, session_timeout)
        self.client = docker.from_env()
        self.network = network

    def _container(self, worker: dict):
        found = self.client.containers.list(filters={"label": [f"rideshare.worker={worker['id']}",
                                                                 "rideshare.kind=worker"]})
        if not found:
            raise FaultError(f"no container for worker {worker['id']}")
        return found[0]

    def inject(self, kind: str, rng: random.Random) -> dict:
        if kind != "partition-master":
            return super().inject(kind, rng)
        masters = [w for w in self.api.status()["workers"] if w.get("role") == "master"]
        if not masters:
            raise FaultError(f"{kind} found no master")
        seconds = round(self.session_timeout * rng.uniform(2.0, 4.0) + 1.0, 2)
        network = self.client.networks.get(self.network)
        container = self._container(masters[0])
        network.disconnect(container)
        try:
            time.sleep(seconds)  # the partition is the fault itself, not a wait for a condition
        finally:
            try:
                network.connect(container)
            except Exception as error:  # the old master may have exited and been removed meanwhile
                logger.warning("could not reconnect worker %s: %s", masters[0]["id"], error)
        return {"pid": masters[0]["pid"], "partitioned": seconds}

    def kill(self, worker: dict) -> None:
        self._container(worker).kill(signal="SIGKILL")

    def pause(self, worker: dict, seconds: float) -> None:
        container = self._container(worker)
        container.pause()
        try:
            time.sleep(seconds)  # the pause is the fault itself, not a wait for a condition
        finally:
            try:
                container.unpause()
            except Exception as error:  # the container may have been removed meanwhile
                logger.warning("could not unpause worker %s: %s", worker["id"], error)


def make_faults(runtime: str, api: Api, session_timeout: float, network: str = "") -> Faults:
    if runtime == "local":
        return LocalFaults(api, session_timeout)
    return DockerFaults(api, session_timeout, network)


def plan_kinds(kinds: tuple, count: int, rng: random.Random) -> list[str]:
    """Return `count` of `kinds`: one kind of each group in shuffled order, before any group repeats."""
    groups = [[kind for kind in group if kind in kinds] for group in KIND_GROUPS]
    groups = [group for group in groups if group]
    planned: list[str] = []
    while len(planned) < count:
        planned += [rng.choice(group) for group in rng.sample(groups, len(groups))]
    return planned[:count]


@dataclass
class RoundConfig:
    seed: int = 1
    seconds: float = 60.0
    kinds: tuple = FAULT_KINDS
    faults: int = 3
    writers: int = 4
    rate: float = 40.0  # writes per second over all writers
    retries: int = 3
    slaves: int = 2


def poll(condition, timeout: float, description: str, interval: float = 0.2):
    """Return the first truthy value of `condition` within `timeout` s, or log the timeout and return None."""
    try:
        return wait_for(condition, timeout, description, interval=interval)
    except AssertionError as error:
        logger.error("%s", error)
        return None


def full_shape(workers: list[dict], expected: int) -> bool:
    """Tell whether `expected` workers run, all serving, one of them master."""
    serving = [w for w in workers if w.get("state") == "serving"]
    return len(serving) == expected == len(workers) and any(w.get("role") == "master" for w in workers)


def recovered_from(api: Api, pid: int, expected: int) -> bool:
    workers = api.status()["workers"]
    return pid not in {w["pid"] for w in workers} and full_shape(workers, expected)


def inject_faults(faults: Faults, config: RoundConfig, rng: random.Random, history: History) -> float:
    """Inject the planned faults at seeded moments and return the time of the last recovery."""
    kinds = plan_kinds(config.kinds, config.faults, rng)
    slot = max(config.seconds - WARMUP - TAIL, 0.0) / max(len(kinds), 1)
    ready_at = WARMUP
    for number, kind in enumerate(kinds):
        at = max(WARMUP + number * slot + rng.uniform(0, slot / 2), ready_at)
        time.sleep(max(0.0, at - history.clock()))  # the seeded schedule, not a wait for a condition
        start = history.clock()
        try:
            hit = faults.inject(kind, rng)
        except (FaultError, requests.RequestException) as error:
            history.record(type="fault", kind=kind, pid=None, start=start, end=history.clock(), error=str(error))
            raise FaultError(f"{kind} failed: {error}") from error
        end, pid = history.clock(), hit["pid"]
        logger.info("fault %s hit pid %s at %.1f s", kind, pid, start)
        shaped = poll(partial(recovered_from, faults.api, pid, 1 + config.slaves), RECOVERY_TIMEOUT,
                      f"recovery from {kind} on pid {pid}")
        recovered = history.clock() if shaped else None
        history.record(type="fault", kind=kind, start=start, end=end, recovered=recovered, **hit)
        if recovered is None:
            raise FaultError(f"the cluster did not recover within {RECOVERY_TIMEOUT} s of {kind} on pid {pid}")
        ready_at = recovered + MIN_PAUSE
    return ready_at - MIN_PAUSE


def collect_final(api: Api, collection: str, expected: int, history: History) -> None:
    """Wait for a master and one position on every worker, then record digests and the stored ids."""

    def settled():
        workers = api.status()["workers"]
        return full_shape(workers, expected) and len({w.get("position") for w in workers}) == 1

    converged = bool(poll(settled, SETTLE_TIMEOUT, "every worker at one position"))
    status = poll(partial(api.status, digest=True), 60, "the digests") or {"workers": [], "log_head": None}
    workers = [{key: w.get(key) for key in ("id", "pid", "role", "position", "digest", "documents")}
               for w in status["workers"]]
    query = {"collection": collection, "filter": {}, "projection": {"_id": 1}}
    if status["log_head"] is not None:
        query["after"] = status["log_head"]

    def read(extra: dict):
        response = api.post("/api/v1/db/read", {**query, **extra})
        return response.json() if response.status_code == 200 else None

    listed = poll(partial(read, {}), 30, "the final read", interval=0.5)
    counted = poll(partial(read, {"count": True}), 30, "the final count", interval=0.5)
    ids = None if listed is None else [document["_id"] for document in listed["documents"]]
    history.record(type="final", time=history.clock(), converged=converged, workers=workers, ids=ids,
                   count=None if counted is None else counted["count"])


def run_round(api_url: str, faults: Faults, config: RoundConfig, history_path: Path) -> dict:
    """Write under faults, then check the data and return the report of `analyze`."""
    rng = random.Random(config.seed)
    collection = f"faults{config.seed}"
    history = History(history_path)
    history.record(type="round", seed=config.seed, collection=collection, seconds=config.seconds,
                   writers=config.writers, rate=config.rate, wall_clock=time.time())
    stop = threading.Event()
    # A time bound of the writers' own, long enough for every recovery to take its whole timeout.
    deadline = time.monotonic() + config.seconds + config.faults * (RECOVERY_TIMEOUT + 30) + 60
    rate = min(config.rate, MAX_RATE) / config.writers
    writers = [Writer(api_url, i, collection, rate, config.retries, history, stop, deadline)
               for i in range(config.writers)]
    for writer in writers:
        writer.start()
    try:
        last_recovered = inject_faults(faults, config, rng, history)
        tail_end = max(config.seconds, last_recovered + TAIL)
        time.sleep(max(0.0, tail_end - history.clock()))  # keep writing until the planned end
    except FaultError as error:
        logger.error("stopping the faults: %s", error)
    finally:
        stop.set()
        for writer in writers:
            writer.join(REQUEST_TIMEOUT[1] * 2)
    collect_final(faults.api, collection, 1 + config.slaves, history)
    history.close()
    return analyze(history.records)


def _gap(start: float, end: float, ok_ends: list[float]) -> float:
    """Return the longest time in [start, end] without an acknowledged write."""
    points = [start] + [t for t in ok_ends if start < t < end] + [end]
    return max(b - a for a, b in pairwise(points))


def _fault_rows(faults: list[dict], ok_ends: list[float], writes_end: float) -> list[dict]:
    """Return per fault its recovery time and the max gap between acknowledged writes until the next fault."""
    rows = []
    for number, fault in enumerate(faults):
        window_end = faults[number + 1]["start"] if number + 1 < len(faults) else writes_end
        recovered = fault.get("recovered")
        rows.append({"kind": fault["kind"], "pid": fault["pid"], "at": fault["start"],
                     "recovery": None if recovered is None else round(recovered - fault["start"], 2),
                     "gap": round(_gap(fault["start"], max(window_end, fault["start"]), ok_ends), 2),
                     "error": fault.get("error")})
    return rows


def analyze(records: list[dict]) -> dict:
    """Judge a history: acknowledged writes present once each, replicas identical, faults recovered."""
    writes = [r for r in records if r["type"] == "write"]
    faults = [r for r in records if r["type"] == "fault"]
    final = next((r for r in records if r["type"] == "final"), {"workers": [], "ids": None, "converged": False})

    outcomes: dict[str, set] = {}
    for write in writes:
        outcomes.setdefault(write["id"], set()).add(write["outcome"])
    acknowledged = {i for i, seen in outcomes.items() if "ok" in seen}
    failed = {i for i, seen in outcomes.items() if "failed" in seen and "ok" not in seen}
    unknown = set(outcomes) - acknowledged - failed

    stored = Counter(final["ids"] or [])
    present = set(stored)
    # The store's own count must agree with the listed documents: a second view on duplicates.
    count = final.get("count") if final.get("count") is not None else sum(stored.values())
    masters = [w for w in final["workers"] if w["role"] == "master"]
    master_digest = masters[0]["digest"] if len(masters) == 1 else None

    ok_ends = sorted(w["end"] for w in writes if w["outcome"] == "ok")
    fault_rows = _fault_rows(faults, ok_ends, max((w["end"] for w in writes), default=0.0))
    last_end = max((f.get("recovered") or f["end"] for f in faults), default=0.0)

    report = {
        "attempts": len(writes), "acknowledged": len(acknowledged), "failed": len(failed), "unknown": len(unknown),
        "stored": sum(stored.values()), "distinct stored": len(present),
        "missing": len(acknowledged - present), "missing ids": sorted(acknowledged - present)[:10],
        "count": count, "duplicates": max(sum(stored.values()), count) - len(present),
        "failed present": len(failed & present), "unknown present": len(unknown & present),
        "unexpected": len(present - set(outcomes)),
        "workers": len(final["workers"]),
        # Without a digest from every worker and one master to compare with, a worker counts as divergent.
        "divergent": sum(1 for w in final["workers"] if w["digest"] is None or w["digest"] != master_digest),
        "documents per worker": [w["documents"] for w in final["workers"]],
        "converged": final["converged"], "read ok": final["ids"] is not None and final.get("count") is not None,
        "ok after last fault": sum(1 for w in writes if w["outcome"] == "ok" and w["start"] > last_end),
        "faults": fault_rows,
    }
    report["passed"] = (report["missing"] == report["duplicates"] == report["divergent"] == 0
                        and report["failed present"] == report["unexpected"] == 0
                        and report["converged"] and report["read ok"] and report["ok after last fault"] > 0
                        and all(f["recovery"] is not None for f in fault_rows))
    return report


def format_report(report: dict) -> str:
    lines = [f"{key:<22} {value}" for key, value in report.items() if key != "faults"]
    lines.append(f"{'fault':<14} {'pid':>8} {'at s':>8} {'recovery s':>11} {'max gap s':>10}")
    for fault in report["faults"]:
        lines.append(f"{fault['kind']:<14} {fault['pid'] or '-':>8} {fault['at']:>8.1f} "
                     f"{fault['recovery'] if fault['recovery'] is not None else '-':>11} {fault['gap']:>10}"
                     + (f"  error: {fault['error']}" if fault["error"] else ""))
    return "\n".join(lines)


def run_local_rounds(args: argparse.Namespace, configs: list[RoundConfig]) -> bool:
    """Run each round on a fresh local cluster on one private RabbitMQ and ZooKeeper and return whether all passed."""
    from tests.cluster import LocalCluster
    from tests.servers import RabbitMQServer, ZooKeeperServer

    all_passed = True
    cap = time.monotonic() + args.time_cap
    with RabbitMQServer() as rabbitmq, ZooKeeperServer() as zookeeper, tempfile.TemporaryDirectory() as workdir:
        for config in configs:
            if time.monotonic() + config.seconds > cap:
                logger.warning("stopping before the round with seed %s: --time-cap %s s reached", config.seed,
                               args.time_cap)
                return False
            history_path = Path(args.history_dir) / f"faults-seed{config.seed}.jsonl"
            with LocalCluster(rabbitmq.url, zookeeper.hosts, Path(workdir), MIN_SLAVES=str(config.slaves)) as cluster:
                cluster.start(slaves=config.slaves)
                api = Api(cluster.url)
                faults = make_faults("local", api, float(cluster.env["ZK_SESSION_TIMEOUT"]))
                report = run_round(cluster.url, faults, config, history_path)
                if not report["passed"]:
                    # Keep the orchestrator's and the workers' logs beside the history.
                    shutil.copytree(cluster.workdir, history_path.with_suffix(".logs"),
                                    ignore=shutil.ignore_patterns("*.sqlite*", "*.json"), dirs_exist_ok=True)
            verdict = "passed" if report["passed"] else "FAILED"
            print(f"\n== round seed {config.seed}: {verdict} (history {history_path})\n{format_report(report)}",
                  flush=True)
            all_passed = all_passed and report["passed"]
    return all_passed


def run_docker_rounds(args: argparse.Namespace, configs: list[RoundConfig]) -> bool:
    """Run each round on a fresh compose stack (tests/compose.py) and return whether all passed."""
    from tests.compose import Stack, clean

    all_passed = True
    cap = time.monotonic() + args.time_cap
    for config in configs:
        if time.monotonic() + config.seconds > cap:
            logger.warning("stopping before the round with seed %s: --time-cap %s s reached", config.seed,
                           args.time_cap)
            return False
        history_path = Path(args.history_dir) / f"faults-docker-seed{config.seed}.jsonl"
        stack = Stack()
        project = f"rideshare-faults{config.seed}"
        stack.env.update(COMPOSE_PROJECT_NAME=project, DOCKER_NETWORK=project, MIN_SLAVES=str(config.slaves))
        try:
            stack.up()
            stack.wait_for_serving(1 + config.slaves, timeout=180)
            faults = make_faults("docker", Api(stack.url), float(stack.env["ZK_SESSION_TIMEOUT"]), project)
            report = run_round(stack.url, faults, config, history_path)
        finally:
            clean(stack)
        verdict = "passed" if report["passed"] else "FAILED"
        print(f"\n== docker round seed {config.seed}: {verdict} (history {history_path})\n{format_report(report)}",
              flush=True)
        all_passed = all_passed and report["passed"]
    return all_passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", choices=("local", "docker"), default="local", help="runtime of the cluster")
    parser.add_argument("--seconds", type=float, default=60.0, help="planned writing time of a round, seconds")
    parser.add_argument("--faults", type=int, default=3, help="faults per round")
    parser.add_argument("--kinds", default="",
                        help="comma-separated fault kinds (default: all that the runtime has)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first round; round n uses seed + n")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, each on a fresh cluster")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writer threads")
    parser.add_argument("--rate", type=float, default=40.0,
                        help=f"writes per second over all writers (cap {MAX_RATE:g})")
    parser.add_argument("--retries", type=int, default=3, help="retries of a write whose outcome is unknown")
    parser.add_argument("--history-dir", default=str(PROJECT_ROOT / "bench" / "history"),
                        help="where each round's history file goes (default bench/history, git-ignored)")
    parser.add_argument("--time-cap", type=float, default=3600.0, help="no round starts after this many seconds")
    parser.add_argument("--check", metavar="HISTORY", help="only analyze a kept history file and print the table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The servers' readiness probes log every refused connection while RabbitMQ and ZooKeeper start.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    logging.getLogger("kazoo").setLevel(logging.ERROR)

    if args.check:
        report = analyze(load_history(Path(args.check)))
        print(format_report(report))
        return 0 if report["passed"] else 1
    available = DockerFaults.kinds if args.runtime == "docker" else FAULT_KINDS
    kinds = tuple(args.kinds.split(",")) if args.kinds else available
    unknown_kinds = set(kinds) - set(available)
    if unknown_kinds:
        parser.error(f"invalid --kinds {', '.join(sorted(unknown_kinds))}: expected some of {', '.join(available)}")
    if not 1 <= args.writers <= 64 or not 0 < args.rate <= MAX_RATE or args.seconds <= 0 or args.rounds < 1:
        parser.error(f"expected 1 to 64 writers, a rate up to {MAX_RATE:g} writes/s, and positive seconds and rounds")
    configs = [RoundConfig(seed=args.seed + n, seconds=args.seconds, kinds=kinds, faults=args.faults,
                           writers=args.writers, rate=args.rate, retries=args.retries) for n in range(args.rounds)]
    runner = run_docker_rounds if args.runtime == "docker" else run_local_rounds
    return 0 if runner(args, configs) else 1


if __name__ == "__main__":
    sys.exit(main())
