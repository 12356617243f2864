"""Autoscaling by read count: the arithmetic is pure, the clock is passed in."""

import math
import threading


def desired_slaves(reads: int, reads_per_slave: int, min_slaves: int, max_slaves: int) -> int:
    """Return the slave count for one window: max(min_slaves, ceil(reads / reads_per_slave)), capped."""
    slaves = max(min_slaves, math.ceil(reads / reads_per_slave))
    return min(slaves, max_slaves)


class Autoscaler:
    """Counts db/read calls and sets the target slave count at each window tick.

    The first tick comes one window after the first read; the count resets at
    every tick. Thread-safe: Flask threads count, the reconciliation loop ticks.
    """

    def __init__(self, window: float, reads_per_slave: int, min_slaves: int, max_slaves: int) -> None:
        self.window = window
        self.reads_per_slave = reads_per_slave
        self.min_slaves = min_slaves
        self.max_slaves = max_slaves
        self.target = min_slaves
        self.reads = 0
        self.next_tick: float | None = None
        self._lock = threading.Lock()

    def count_read(self, now: float) -> None:
        with self._lock:
            self.reads += 1
            if self.next_tick is None:
                self.next_tick = now + self.window

    def tick(self, now: float) -> int | None:
        """Apply every tick that is due; return the new target if it changed."""
        with self._lock:
            if self.next_tick is None or now < self.next_tick:
                return None
            before = self.target
            while self.next_tick <= now:
                self.target = desired_slaves(self.reads, self.reads_per_slave, self.min_slaves, self.max_slaves)
                self.reads = 0
                self.next_tick += self.window
            return self.target if self.target != before else None

    def snapshot(self) -> dict:
        with self._lock:
            return {"target_slaves": self.target, "reads_in_window": self.reads, "window_seconds": self.window}
