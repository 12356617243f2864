"""A RideShare compose stack under its own project name, for tests and benchmarks.

The stack gets its own compose project, network and published ports, so it
never touches a stack a developer runs on the same host. Images come from
images/local.env when it exists (hosts without a registry), else from the
compose defaults.
"""

import os
import shutil
import subprocess
from pathlib import Path

import docker
import requests

from tests.cluster import wait_for
from tests.servers import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT = os.environ.get("RIDESHARE_TEST_PROJECT", "rideshare-e2e")
LABEL = f"rideshare.project={PROJECT}"


def compose_command() -> list:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


def local_images_env() -> dict:
    """Return the variables of images/local.env (export NAME=value lines), if the file exists."""
    path = PROJECT_ROOT / "images" / "local.env"
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line.startswith("export "):
                name, _, value = line[len("export "):].partition("=")
                values[name] = value.strip("'\"")
    return values


class Stack:
    def __init__(self) -> None:
        self.ports = {name: free_port() for name in ("ORCHESTRATOR", "GATEWAY", "USERS", "RIDES")}
        self.env = dict(os.environ, **local_images_env(), COMPOSE_PROJECT_NAME=PROJECT,
                        DOCKER_NETWORK=PROJECT, ZK_SESSION_TIMEOUT="3")
        for name, port in self.ports.items():
            self.env[f"{name}_PORT"] = str(port)
        self.url = f"http://127.0.0.1:{self.ports['ORCHESTRATOR']}"
        self.gateway = f"http://127.0.0.1:{self.ports['GATEWAY']}"
        self.client = docker.from_env()
        self.session = requests.Session()

    def compose(self, *arguments: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
        result = subprocess.run([*compose_command(), *arguments], cwd=PROJECT_ROOT, env=env or self.env,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"compose {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def up(self, env: dict | None = None) -> None:
        self.compose("up", "-d", "--build", env=env)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 300) -> None:
        wait_for(lambda: self.session.get(self.url + "/api/v1/health", timeout=5).status_code == 200,
                 timeout, "a healthy orchestrator", interval=1)

    def worker_containers(self) -> list:
        containers = self.client.containers.list(filters={"label": [LABEL, "rideshare.kind=worker"]})
        return [c for c in containers if c.status in ("running", "paused")]

    def pids(self) -> list:
        return self.session.get(self.url + "/api/v1/worker/list", timeout=30).json()

    def status(self, digest: bool = False) -> dict:
        suffix = "?digest=true" if digest else ""
        return self.session.get(self.url + "/api/v1/worker/status" + suffix, timeout=120).json()

    def write(self, body: dict) -> dict:
        response = self.session.post(self.url + "/api/v1/db/write", json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def read(self, body: dict) -> dict:
        response = self.session.post(self.url + "/api/v1/db/read", json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_serving(self, count: int, timeout: float = 120) -> list:
        def ready():
            workers = self.status()["workers"]
            serving = [w for w in workers if w.get("state") == "serving" and w.get("role") in ("master", "slave")]
            return workers if len(workers) == count and len(serving) == count else None

        return wait_for(ready, timeout, f"{count} serving workers", interval=0.5)

    def wait_for_convergence(self, timeout: float = 120) -> list:
        def converged():
            workers = self.status()["workers"]
            if len({w.get("position") for w in workers}) != 1:
                return None
            workers = self.status(digest=True)["workers"]
            digests = {w.get("digest") for w in workers}
            return workers if len(digests) == 1 and None not in digests else None

        return wait_for(converged, timeout, "converged replicas", interval=0.5)

    def master(self) -> dict | None:
        for worker in self.status()["workers"]:
            if worker.get("role") == "master":
                return worker
        return None


def clean(stack: Stack) -> subprocess.CompletedProcess:
    """Run docker_clean.sh for the stack's project."""
    return subprocess.run([str(PROJECT_ROOT / "docker_clean.sh")], cwd=PROJECT_ROOT, env=stack.env,
                          capture_output=True, text=True, timeout=300)
