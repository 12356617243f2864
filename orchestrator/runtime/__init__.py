"""Runtimes start, list and kill workers; the orchestrator never calls Docker or os.kill itself."""

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerHandle:
    """A running worker: its id (also its ZooKeeper name) and its pid on the host."""

    id: str
    pid: int


class Runtime(ABC):
    @abstractmethod
    def spawn(self) -> WorkerHandle:
        """Start a worker with its own empty store; blocks until its pid is known."""

    @abstractmethod
    def list(self) -> list[WorkerHandle]:
        """Return the workers that are running, catching-up ones included."""

    @abstractmethod
    def kill(self, worker_id: str) -> None:
        """Kill a worker and its store at once (SIGKILL)."""

    @abstractmethod
    def stop(self, worker_id: str) -> None:
        """Ask a worker to stop gracefully (SIGTERM); returns without waiting.

        The worker and its store are removed once it has exited, which `list` notices.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the runtime's resources; workers keep running where the runtime allows."""


def create_runtime(name: str) -> Runtime:
    if name == "local":
        from orchestrator.runtime.local import LocalRuntime

        return LocalRuntime()
    if name == "docker":
        from orchestrator.runtime.docker import DockerRuntime

        return DockerRuntime()
    raise ValueError(f"invalid RUNTIME {name!r}: expected docker or local")
