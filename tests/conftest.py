"""Shared fixtures of the test suite."""

from collections.abc import Iterator

import pytest

from tests.servers import FerretDBServer, RabbitMQServer, ZooKeeperServer

# The RideShare services (users, rides, gateway) on top of `local_cluster`.
pytest_plugins = ["tests.app_fixtures"]

# --- Private servers (tests/servers.py) --------------------------------------
# Each fixture starts its own server on free 127.0.0.1 ports in a temporary
# directory and deletes it afterwards. Session-scoped clusters share the
# RabbitMQ and ZooKeeper servers, so a test that stops, kills or restarts a
# server should start its own: `with RabbitMQServer() as server: ...`.


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQServer]:
    """A RabbitMQ node shared by the whole session. `.url` is its AMQP URL."""
    with RabbitMQServer() as server:
        yield server


@pytest.fixture(scope="session")
def zookeeper() -> Iterator[ZooKeeperServer]:
    """A standalone ZooKeeper shared by the whole session. `.hosts` is its address."""
    with ZooKeeperServer() as server:
        yield server


@pytest.fixture
def ferretdb() -> Iterator[FerretDBServer]:
    """An empty FerretDB store for one test. `.url` is its MongoDB URL."""
    with FerretDBServer() as server:
        yield server


# --- DBaaS clusters (tests/cluster.py) ---------------------------------------
# A cluster runs the real orchestrator (local runtime) on the session's
# RabbitMQ and ZooKeeper, with its own queue names and ZooKeeper root.

from tests.cluster import LocalCluster  # noqa: E402


@pytest.fixture(scope="session")
def local_cluster(rabbitmq, zookeeper, tmp_path_factory) -> Iterator[LocalCluster]:
    """One master and one slave shared by the tests that only read and write."""
    with LocalCluster(rabbitmq.url, zookeeper.hosts, tmp_path_factory.mktemp("shared-cluster")) as cluster:
        cluster.start(slaves=1)
        yield cluster


@pytest.fixture
def make_cluster(rabbitmq, zookeeper, tmp_path):
    """Start a fresh cluster for one test: `make_cluster(slaves=2, AUTOSCALE_WINDOW="5")`."""
    clusters = []

    def start(slaves: int = 1, **settings: str) -> LocalCluster:
        cluster = LocalCluster(rabbitmq.url, zookeeper.hosts, tmp_path, MIN_SLAVES=str(slaves), **settings)
        clusters.append(cluster)
        return cluster.start(slaves=slaves)

    yield start
    for cluster in clusters:
        cluster.stop()
