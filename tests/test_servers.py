"""The private servers of tests/servers.py work as the other tests expect."""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pika
import pymongo
import pytest
from kazoo.client import KazooClient

from tests.servers import (
    FerretDBServer,
    RabbitMQServer,
    ServerStartError,
    ZooKeeperServer,
    process_group_alive,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def wait_until(condition: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {message}")
        time.sleep(0.05)


def process_exists(pid: int) -> bool:
    # A zombie still has a pid but has exited, so read its state instead of kill(pid, 0).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def publish_to_stream(url: str, queue: str, bodies: list[bytes]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "stream"})
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))
    finally:
        connection.close()


def read_stream(url: str, queue: str, offset: str | int, count: int) -> list[tuple[int, bytes]]:
    """Consume `count` entries of a stream from `offset` and return (offset, body) pairs."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    entries: list[tuple[int, bytes]] = []
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=100)  # a stream consumer must set a prefetch
        messages = channel.consume(queue, arguments={"x-stream-offset": offset}, inactivity_timeout=5)
        for method, properties, body in messages:
            if method is None:
                break  # no entry within inactivity_timeout
            entries.append((properties.headers["x-stream-offset"], body))
            channel.basic_ack(method.delivery_tag)
            if len(entries) == count:
                break
        channel.cancel()
    finally:
        connection.close()
    return entries


def read_stream_after_recovery(url: str, queue: str, count: int) -> list[tuple[int, bytes]]:
    """Read a stream from its first entry, retrying while the restarted broker recovers it."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return read_stream(url, queue, "first", count)
        except pika.exceptions.ChannelClosedByBroker:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_rabbitmq_stream_replays_from_offset(rabbitmq: RabbitMQServer) -> None:
    queue = f"stream-{uuid.uuid4().hex}"
    bodies = [f"entry {i}".encode() for i in range(5)]
    publish_to_stream(rabbitmq.url, queue, bodies)

    from_first = read_stream(rabbitmq.url, queue, "first", len(bodies))
    assert [body for _, body in from_first] == bodies

    third_offset = from_first[2][0]
    from_third = read_stream(rabbitmq.url, queue, third_offset, 3)
    assert [body for _, body in from_third] == bodies[2:]


@pytest.fixture(scope="module")
def private_rabbitmq() -> Iterator[RabbitMQServer]:
    """A RabbitMQ node of this module's own, so that restarting it disturbs no shared cluster."""
    with RabbitMQServer() as server:
        yield server


def test_rabbitmq_restart_keeps_stream(private_rabbitmq: RabbitMQServer) -> None:
    rabbitmq = private_rabbitmq
    queue = f"stream-{uuid.uuid4().hex}"
    bodies = [b"before restart 1", b"before restart 2"]
    publish_to_stream(rabbitmq.url, queue, bodies)
    url_before = rabbitmq.url

    rabbitmq.restart()

    assert rabbitmq.url == url_before
    replayed = read_stream_after_recovery(rabbitmq.url, queue, len(bodies))
    assert [body for _, body in replayed] == bodies


def test_rabbitmq_kill_then_start(private_rabbitmq: RabbitMQServer) -> None:
    rabbitmq = private_rabbitmq
    rabbitmq.kill()
    assert not rabbitmq.running
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        pika.BlockingConnection(pika.URLParameters(f"{rabbitmq.url}?connection_attempts=1"))

    rabbitmq.start()

    assert rabbitmq.running
    pika.BlockingConnection(pika.URLParameters(rabbitmq.url)).close()


def test_rabbitmqctl_reaches_node(rabbitmq: RabbitMQServer) -> None:
    status = rabbitmq.rabbitmqctl("status")

    assert rabbitmq.node in status
    assert "RabbitMQ version: 3." in status


def test_zookeeper_ephemeral_znode_goes_with_session(zookeeper: ZooKeeperServer) -> None:
    path = f"/test-{uuid.uuid4().hex}"
    owner = KazooClient(hosts=zookeeper.hosts, timeout=2.0)
    observer = KazooClient(hosts=zookeeper.hosts, timeout=2.0)
    owner.start(timeout=5)
    observer.start(timeout=5)
    try:
        owner.create(path, b"owner", ephemeral=True)
        data, stat = observer.get(path)
        assert data == b"owner"
        assert stat.ephemeralOwner == owner.client_id[0]

        owner.stop()

        wait_until(lambda: observer.exists(path) is None, 5, f"{path} is deleted")
    finally:
        owner.close()
        observer.stop()
        observer.close()


def test_zookeeper_restart_keeps_znodes() -> None:
    with ZooKeeperServer() as zookeeper:  # its own, so that no shared cluster sees the restart
        client = KazooClient(hosts=zookeeper.hosts, timeout=2.0)
        client.start(timeout=5)
        client.create("/kept", b"kept")
        client.stop()
        client.close()

        zookeeper.restart()

        client = KazooClient(hosts=zookeeper.hosts, timeout=2.0)
        client.start(timeout=5)
        try:
            data, _ = client.get("/kept")
            assert data == b"kept"
        finally:
            client.stop()
            client.close()


def test_ferretdb_insert_and_find(ferretdb: FerretDBServer) -> None:
    client = pymongo.MongoClient(ferretdb.url, serverSelectionTimeoutMS=5000)
    try:
        rides = client.rideshare.rides
        rides.insert_many([{"rideId": 1, "source": 5}, {"rideId": 2, "source": 7}])

        found = rides.find_one({"source": 7}, {"_id": False})

        assert found == {"rideId": 2, "source": 7}
        assert rides.count_documents({}) == 2
    finally:
        client.close()


def test_ferretdb_restart_keeps_documents(ferretdb: FerretDBServer) -> None:
    with pymongo.MongoClient(ferretdb.url, serverSelectionTimeoutMS=5000) as client:
        client.rideshare.users.insert_one({"username": "alice"})

    ferretdb.restart()

    with pymongo.MongoClient(ferretdb.url, serverSelectionTimeoutMS=5000) as client:
        assert client.rideshare.users.find_one({}, {"_id": False}) == {"username": "alice"}


def test_start_on_taken_port_fails(ferretdb: FerretDBServer) -> None:
    second = FerretDBServer(port=ferretdb.port)
    try:
        with pytest.raises(ServerStartError, match=f"127.0.0.1:{ferretdb.port} is already in use"):
            second.start()
    finally:
        second.close()


def test_start_failure_shows_log_tail() -> None:
    server = FerretDBServer()
    try:
        data_dir = server.dir / "data"
        data_dir.rmdir()
        data_dir.write_text("")  # FerretDB requires a directory here and exits

        with pytest.raises(ServerStartError) as failure:
            server.start()
    finally:
        server.close()

    message = str(failure.value)
    assert "ferretdb exited with code" in message
    assert "output.log" in message
    assert "should be an existing directory" in message


# A child Python process that starts one server, prints its pid and directory,
# and waits to be killed.
SERVER_OWNER_SCRIPT = """
import sys, time
from tests.servers import FerretDBServer, RabbitMQServer
server = {"ferretdb": FerretDBServer, "rabbitmq": RabbitMQServer}[sys.argv[1]]()
server.start()
print(server.pid, server.dir, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("kind", ["ferretdb", "rabbitmq"])
def test_server_dies_with_test_process(kind: str) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", SERVER_OWNER_SCRIPT, kind],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    server_dir = None
    try:
        pid_text, server_dir = owner.stdout.readline().split()
        server_pid = int(pid_text)
        assert process_exists(server_pid)

        owner.send_signal(signal.SIGKILL)  # no atexit handler runs, only the death signal
        owner.wait()

        # The RabbitMQ script stops its Erlang VM gracefully, which takes a few seconds.
        wait_until(lambda: not process_exists(server_pid), 30, f"{kind} pid {server_pid} exits")
        wait_until(lambda: not process_group_alive(server_pid), 30, f"every process of {kind} group exits")
    finally:
        owner.kill()
        owner.wait()
        if server_dir:
            shutil.rmtree(server_dir, ignore_errors=True)
