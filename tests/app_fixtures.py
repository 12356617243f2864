"""Fixtures that run the users and rides services (gunicorn) and a gateway (nginx) on
free 127.0.0.1 ports in front of the `local_cluster` DBaaS.

Import the fixtures into a test module with
`from tests.app_fixtures import rideshare, rideshare_clean  # noqa: F401`.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0

NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    access_log off;
    client_max_body_size 16m;
    upstream users {{ server 127.0.0.1:{users_port}; keepalive 16; }}
    upstream rides {{ server 127.0.0.1:{rides_port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /api/v1/users {{ proxy_pass http://users; }}
        location /api/v1/ {{ proxy_pass http://rides; }}
    }}
}}
"""


@dataclass
class RideShare:
    """Base URLs of one running RideShare stack."""

    dbaas_url: str
    users_url: str
    rides_url: str
    gateway_url: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    """Poll `url` until it returns 200; fail with the process log if it exits or times out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}; log:\n{log_path.read_text()}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            # Refused before the bind, or a read timeout while the worker still imports.
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy after {START_TIMEOUT} s; log:\n{log_path.read_text()}")


def start_service(app: str, port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start `<app>.app:create_app()` under gunicorn as the Dockerfiles run it."""
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "16",
        "--bind", f"127.0.0.1:{port}", f"{app}.app:create_app()",
    ]
    log = log_path.open("w")
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/api/v1/health", process, log_path)
    except BaseException:
        stop(process)
        raise
    return process


def start_gateway(tmp: Path, port: int, users_port: int, rides_port: int) -> subprocess.Popen:
    """Start Debian's nginx routing /api/v1/users* to users and the rest of /api/v1/ to rides."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    conf = tmp / "nginx.conf"
    # Under root, nginx would run its workers as user `nobody`, which cannot enter pytest's
    # private temp folder to buffer large bodies, so keep the workers as root.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, users_port=users_port, rides_port=rides_port))
    log_path = tmp / "nginx.out"
    log = log_path.open("w")
    process = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, tmp / "nginx-error.log")
    except BaseException:
        stop(process)
        raise
    return process


def _wait_for_port(port: int, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text() if log_path.exists() else ""
            raise RuntimeError(f"nginx exited with {process.returncode}; error log:\n{log}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nginx not listening on {port} after {START_TIMEOUT} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_rideshare(dbaas_url: str, tmp: Path) -> tuple[RideShare, list[subprocess.Popen]]:
    """Start users, rides and the gateway; return their URLs and processes (gateway last)."""
    users_port, rides_port, gateway_port = free_port(), free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    env = dict(os.environ, DBAAS_URL=dbaas_url, GATEWAY_URL=gateway_url, PYTHONPATH=str(REPO_ROOT))
    processes: list[subprocess.Popen] = []
    try:
        processes.append(start_service("users", users_port, env, tmp / "users.log"))
        processes.append(start_service("rides", rides_port, env, tmp / "rides.log"))
        processes.append(start_gateway(tmp, gateway_port, users_port, rides_port))
    except BaseException:
        for process in processes:
            stop(process)
        raise
    stack = RideShare(
        dbaas_url=dbaas_url,
        users_url=f"http://127.0.0.1:{users_port}",
        rides_url=f"http://127.0.0.1:{rides_port}",
        gateway_url=gateway_url,
    )
    return stack, processes


@pytest.fixture(scope="session")
def rideshare(local_cluster, tmp_path_factory) -> Iterator[RideShare]:
    """The users and rides services and a gateway, running against the local DBaaS."""
    stack, processes = start_rideshare(local_cluster.url, tmp_path_factory.mktemp("rideshare"))
    try:
        yield stack
    finally:
        for process in reversed(processes):
            stop(process)


def wait_until_cleared(stack: RideShare) -> None:
    """Poll both services until they see no data.

    db/clear returns no log position, so a service cannot pass one as `after` on its next
    read. Until the slave it reads from has applied the clear, it may still return old data.
    """
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        users = requests.get(f"{stack.users_url}/api/v1/users", timeout=30)
        rides = requests.get(f"{stack.rides_url}/api/v1/rides/count", timeout=30)
        if users.status_code == 204 and rides.status_code == 200 and rides.json() == [0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"services still see data {START_TIMEOUT} s after db/clear")


@pytest.fixture
def rideshare_clean(rideshare: RideShare) -> RideShare:
    """The running stack with the data cleared and both request counters at 0."""
    assert requests.post(f"{rideshare.users_url}/api/v1/db/clear", timeout=30).status_code == 200
    wait_until_cleared(rideshare)
    for url in (rideshare.users_url, rideshare.rides_url):
        assert requests.delete(f"{url}/api/v1/_count", timeout=10).status_code == 200
    return rideshare
