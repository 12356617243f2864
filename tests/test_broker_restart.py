"""RabbitMQ restarted under write load, on a broker of this module's own."""

import uuid

import pytest

from tests.cluster import LocalCluster, wait_for
from tests.servers import RabbitMQServer
from tests.test_failover import Writer, ids_on_cluster


@pytest.fixture(scope="module")
def own_rabbitmq():
    with RabbitMQServer() as server:
        yield server


def test_broker_restart_loses_no_acknowledged_write(own_rabbitmq, zookeeper, tmp_path):
    with LocalCluster(own_rabbitmq.url, zookeeper.hosts, tmp_path, MIN_SLAVES="2") as cluster:
        cluster.start(slaves=2)
        name = "restart" + uuid.uuid4().hex[:6]
        writer = Writer(cluster, name)
        writer.start()
        writer.acknowledged_after(50, 30)

        own_rabbitmq.restart()
        writer.acknowledged_after(50, 90)
        acknowledged = writer.finish()

        cluster.wait_for_serving(3, timeout=90)
        workers = cluster.wait_for_convergence(timeout=90)
        assert len({w["digest"] for w in workers}) == 1
        present = wait_for(lambda: ids_on_cluster(cluster, name), 30, "a read after the restart")
        assert set(acknowledged) <= present
