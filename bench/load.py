"""Bounded concurrent load against an HTTP endpoint, with latency figures."""

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from collections.abc import Callable

import requests


@dataclass
class LoadResult:
    latencies: list = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Return the p-th percentile latency in milliseconds (0 without samples)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))
        return ordered[index] * 1000

    def summary(self) -> dict:
        return {"ops": len(self.latencies), "errors": self.errors, "per_second": round(self.rate, 1),
                "p50_ms": round(self.percentile(50), 1), "p99_ms": round(self.percentile(99), 1),
                "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1) if self.latencies else 0.0}


def run_load(request: Callable[[requests.Session, int], bool], clients: int, seconds: float,
             max_ops: int = 1_000_000) -> LoadResult:
    """Call `request(session, n)` from `clients` threads for `seconds` or `max_ops` calls in all.

    `request` returns True for a success; its latency is recorded only then.
    """
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(max_ops))
    deadline = time.monotonic() + seconds

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            began = time.perf_counter()
            try:
                ok = request(session, n)
            except requests.RequestException:
                ok = False
            took = time.perf_counter() - began
            with lock:
                if ok:
                    result.latencies.append(took)
                else:
                    result.errors += 1

    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(client)
    result.seconds = time.monotonic() - began
    return result


def resident_kib(pid: int) -> int:
    """Return a process's resident set size in KiB, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children_of(pid: int) -> list:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(p) for p in children.read().split()]
    except FileNotFoundError:
        return []
