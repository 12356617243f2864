"""Play a bounded day of RideShare traffic against a gateway and check the result.

The day: riders sign up (SHA-1 passwords), post rides between real areas at future times,
then a mixed phase searches the busiest routes, joins rides found, posts more rides and
deletes some. Every phase stops at its request cap or at the time cap, whichever comes
first. At the end the script prints per-route request counts, errors and p50/p99 latency,
and checks that `rides/count` and the user list changed exactly as the script changed them.

Usage: python3 bench/rideshare_day.py [GATEWAY_URL] [--users N] [--rides N] [--day-requests N]
Exit status: 0 when every request got its expected status and both checks hold, else 1.
"""

import argparse
import hashlib
import random
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

# Run as a script from anywhere: the area list lives in the repository's `common` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.areas import AREAS

REQUEST_TIMEOUT = 30.0
HOT_ROUTES = 8
HOT_SHARE = 0.6


@dataclass
class RouteStats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


class Recorder:
    """Per-route request counts, unexpected responses and latencies, safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.routes: dict[str, RouteStats] = defaultdict(RouteStats)
        self.error_samples: list[str] = []

    def record(self, route: str, seconds: float, error: str | None) -> None:
        with self._lock:
            stats = self.routes[route]
            stats.latencies.append(seconds)
            if error:
                stats.errors += 1
                if len(self.error_samples) < 10:
                    self.error_samples.append(f"{route}: {error}")

    @property
    def total_errors(self) -> int:
        return sum(stats.errors for stats in self.routes.values())

    def table(self) -> str:
        lines = [f"{'route':<32} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8}"]
        for route in sorted(self.routes):
            stats = self.routes[route]
            lines.append(
                f"{route:<32} {len(stats.latencies):>8} {stats.errors:>6} "
                f"{percentile(stats.latencies, 50):>8.1f} {percentile(stats.latencies, 99):>8.1f}"
            )
        return "\n".join(lines)


def percentile(values: list[float], rank: int) -> float:
    """Return the `rank`th percentile of `values` in milliseconds (0 for no values)."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[rank - 1] * 1000


class Client:
    """HTTP calls to the gateway, one requests.Session per thread, each call recorded."""

    def __init__(self, gateway: str, recorder: Recorder) -> None:
        self.gateway = gateway.rstrip("/")
        self.recorder = recorder
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def call(self, route: str, method: str, path: str, expected: Iterable[int], **kwargs) -> requests.Response | None:
        """Send one request; record it as an error unless its status is in `expected`."""
        started = time.perf_counter()
        try:
            response = self._session().request(method, self.gateway + path, timeout=REQUEST_TIMEOUT, **kwargs)
        except requests.RequestException as error:
            self.recorder.record(route, time.perf_counter() - started, f"{type(error).__name__}: {error}")
            return None
        error = None
        if response.status_code not in expected:
            error = f"status {response.status_code}: {response.text[:120]}"
        self.recorder.record(route, time.perf_counter() - started, error)
        return response if error is None else None


@dataclass
class Ride:
    ride_id: int
    created_by: str
    members: set[str] = field(default_factory=set)


class Day:
    """The simulated day: its users, the rides it has found and counts of its changes, for the final check."""

    def __init__(self, client: Client, rng: random.Random, tag: str) -> None:
        self.client = client
        self.rng = rng
        self.tag = tag
        self._lock = threading.Lock()
        self.users: list[str] = []
        self.rides_created = 0
        self.rides_deleted = 0
        self.known: dict[int, Ride] = {}      # rides found by searches and free to use
        # Every ride id ever found. A search adds only new ids, so a ride that a join or a
        # deletion has taken out of `known` is not put back by a search meanwhile.
        self.seen: set[int] = set()
        areas = sorted(AREAS)
        self.hot_routes = [tuple(rng.sample(areas, 2)) for _ in range(HOT_ROUTES)]

    # Actions. Each picks its inputs under the lock, then sends one request.

    def sign_up(self, index: int) -> None:
        name = f"rider-{self.tag}-{index:05d}"
        password = hashlib.sha1(f"secret-{name}".encode()).hexdigest()
        body = {"username": name, "password": password}
        if self.client.call("PUT /api/v1/users", "PUT", "/api/v1/users", [201], json=body) is not None:
            with self._lock:
                self.users.append(name)

    def post_ride(self) -> None:
        with self._lock:
            if not self.users:
                return
            created_by = self.rng.choice(self.users)
            source, destination = self._pick_route()
            start = datetime.now(UTC) + timedelta(minutes=self.rng.randint(60, 3 * 24 * 60))
        body = {
            "created_by": created_by,
            "timestamp": start.strftime("%d-%m-%Y:%S-%M-%H"),
            # Areas arrive both ways in real clients: as JSON numbers and as digit strings.
            "source": source if self.rng.random() < 0.5 else str(source),
            "destination": destination,
        }
        if self.client.call("POST /api/v1/rides", "POST", "/api/v1/rides", [201], json=body) is not None:
            with self._lock:
                self.rides_created += 1

    def search(self) -> None:
        with self._lock:
            source, destination = self.rng.choice(self.hot_routes)
        response = self.client.call(
            "GET /api/v1/rides?source&dest", "GET", "/api/v1/rides", [200, 204],
            params={"source": source, "destination": destination},
        )
        if response is None or response.status_code == 204:
            return
        with self._lock:
            for ride in response.json():
                ride_id = ride["rideId"]
                if ride_id not in self.seen:
                    self.seen.add(ride_id)
                    self.known[ride_id] = Ride(ride_id, ride["username"])

    def join(self) -> None:
        with self._lock:
            ride = self._take_ride()
            if ride is None:
                return
            candidates = [user for user in self.rng.sample(self.users, min(5, len(self.users)))
                          if user != ride.created_by and user not in ride.members]
            if not candidates:
                self.known[ride.ride_id] = ride
                return
            username = candidates[0]
        response = self.client.call(
            "POST /api/v1/rides/{id}", "POST", f"/api/v1/rides/{ride.ride_id}", [200], json={"username": username}
        )
        with self._lock:
            if response is not None:
                ride.members.add(username)
            self.known[ride.ride_id] = ride

    def delete_ride(self) -> None:
        with self._lock:
            ride = self._take_ride()
            if ride is None:
                return
        if self.client.call("DELETE /api/v1/rides/{id}", "DELETE", f"/api/v1/rides/{ride.ride_id}", [200]) is not None:
            with self._lock:
                self.rides_deleted += 1

    def mixed_action(self) -> Callable[[], None]:
        """Return a random day action: mostly searches, then joins, new rides and deletions."""
        roll = self.rng.random()
        if roll < 0.5:
            return self.search
        if roll < 0.75:
            return self.join
        if roll < 0.9:
            return self.post_ride
        return self.delete_ride

    def _pick_route(self) -> tuple[int, int]:
        if self.rng.random() < HOT_SHARE:
            return self.rng.choice(self.hot_routes)
        source, destination = self.rng.sample(sorted(AREAS), 2)
        return source, destination

    def _take_ride(self) -> Ride | None:
        """Remove a random known ride from the pool, so no two requests use it at once."""
        if not self.known:
            return None
        ride_id = self.rng.choice(list(self.known))
        return self.known.pop(ride_id)


def run_phase(name: str, actions: list[Callable[[], None]], threads: int, deadline: float) -> int:
    """Run `actions` on `threads` threads until they are done or `deadline` passes; return how many ran."""
    lock = threading.Lock()
    pending = iter(actions)
    done = 0

    def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            with lock:
                action = next(pending, None)
            if action is None:
                return
            action()
            with lock:
                done += 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    elapsed = time.monotonic() - started
    print(f"{name}: {done} of {len(actions)} actions in {elapsed:.1f} s ({done / max(elapsed, 1e-9):.0f}/s)")
    return done


def ride_count(client: Client) -> int | None:
    response = client.call("GET /api/v1/rides/count", "GET", "/api/v1/rides/count", [200])
    return None if response is None else response.json()[0]


def user_names(client: Client) -> set[str] | None:
    response = client.call("GET /api/v1/users", "GET", "/api/v1/users", [200, 204])
    if response is None:
        return None
    return set() if response.status_code == 204 else set(response.json())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Play a bounded day of RideShare traffic against a gateway.")
    parser.add_argument("gateway", nargs="?", default="http://127.0.0.1:8080", help="gateway base URL")
    parser.add_argument("--users", type=int, default=300, help="riders who sign up (default 300)")
    parser.add_argument("--rides", type=int, default=400, help="rides posted before the mixed phase (default 400)")
    parser.add_argument("--day-requests", type=int, default=3000,
                        help="actions in the mixed phase: searches, joins, new rides, deletions (default 3000)")
    parser.add_argument("--threads", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--time-limit", type=float, default=120.0,
                        help="time cap for all phases, in seconds (default 120)")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable day")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    recorder = Recorder()
    client = Client(args.gateway, recorder)
    day = Day(client, rng, tag=uuid.uuid4().hex[:8])
    deadline = time.monotonic() + args.time_limit

    rides_before = ride_count(client)
    users_before = user_names(client)
    if rides_before is None or users_before is None:
        print(f"cannot read the starting state from {args.gateway}: {recorder.error_samples}", file=sys.stderr)
        return 1

    run_phase("sign-up", [lambda i=i: day.sign_up(i) for i in range(args.users)], args.threads, deadline)
    run_phase("morning rides", [day.post_ride] * args.rides, args.threads, deadline)
    run_phase("day", [day.mixed_action() for _ in range(args.day_requests)], args.threads, deadline)

    rides_after = ride_count(client)
    users_after = user_names(client)
    print()
    print(recorder.table())
    print()
    for sample in recorder.error_samples:
        print(f"error: {sample}")

    expected_rides = rides_before + day.rides_created - day.rides_deleted
    rides_ok = rides_after == expected_rides
    users_ok = users_after is not None and users_after - users_before == set(day.users) \
        and users_before <= users_after
    print(f"rides/count: {rides_after}, expected {expected_rides} "
          f"({rides_before} before + {day.rides_created} created - {day.rides_deleted} deleted): "
          f"{'ok' if rides_ok else 'MISMATCH'}")
    print(f"users: {len(users_after or ())}, expected {len(users_before) + len(day.users)} "
          f"({len(users_before)} before + {len(day.users)} signed up): {'ok' if users_ok else 'MISMATCH'}")
    print(f"unexpected responses: {recorder.total_errors}")
    return 0 if rides_ok and users_ok and recorder.total_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
