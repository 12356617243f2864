"""Per-service request counter behind `GET/DELETE /api/v1/_count`.

The count lives in the service's memory and starts at 0 when the service starts.
"""

import threading
from collections.abc import Callable, Iterable
from typing import Any


class RequestCounter:
    """A thread-safe count of requests.

    NOTE: exact only within one process (gunicorn `--workers 1 --threads N`, as the images
    run it). Several worker processes would need the count in shared memory instead, for
    example a multiprocessing.Value created in a gunicorn config before the fork.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def increment(self) -> None:
        with self._lock:
            self._value += 1

    def reset(self) -> None:
        with self._lock:
            self._value = 0

    @property
    def value(self) -> int:
        with self._lock:
            return self._value


class CountingMiddleware:
    """WSGI middleware that counts every request whose path is `prefix` or lies below it.

    It counts before the application runs, so every response status counts: 404s and
    405s from routing, 400s from validation and 500s alike.
    """

    def __init__(self, app: Callable, counter: RequestCounter, prefix: str) -> None:
        self.app = app
        self.counter = counter
        self.prefix = prefix.rstrip("/")

    def counts(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if self.counts(environ.get("PATH_INFO", "")):
            self.counter.increment()
        return self.app(environ, start_response)
