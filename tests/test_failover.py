"""Failures of workers: crashes, a frozen master, late joiners and clears, on real clusters."""

import json
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pika
import requests

from tests.cluster import wait_for
from worker.log_rules import EpochState


def insert_many_acknowledged(cluster, name: str, count: int, threads: int = 8) -> list:
    """Insert `count` documents, one write each; return the ids of acknowledged writes."""

    def insert(i):
        response = cluster.session.post(cluster.url + "/api/v1/db/write", timeout=30, json={
            "collection": name, "op": "insert", "document": {"_id": f"{name}-{i}", "i": i}})
        return f"{name}-{i}" if response.status_code == 200 else None

    with ThreadPoolExecutor(threads) as pool:
        return [doc_id for doc_id in pool.map(insert, range(count)) if doc_id]


class Writer(threading.Thread):
    """Writes unique documents until stopped or `limit` writes; records acknowledged ids."""

    def __init__(self, cluster, name: str, limit: int = 5000, max_seconds: float = 120) -> None:
        super().__init__(daemon=True)
        self.url = cluster.url + "/api/v1/db/write"
        self.name = name
        self.limit = limit
        self.deadline = time.monotonic() + max_seconds
        self.acknowledged: list = []
        self.failed = 0
        self.stop_event = threading.Event()
        self.session = requests.Session()

    def run(self) -> None:
        for i in range(self.limit):
            if self.stop_event.is_set() or time.monotonic() > self.deadline:
                return
            doc_id = f"{self.name}-{i}"
            try:
                response = self.session.post(self.url, timeout=15, json={
                    "collection": self.name, "op": "insert", "id": doc_id, "document": {"_id": doc_id}})
            except requests.RequestException:
                self.failed += 1
                continue
            if response.status_code == 200:
                self.acknowledged.append(doc_id)
            else:
                self.failed += 1

    def acknowledged_after(self, count: int, timeout: float) -> None:
        target = len(self.acknowledged) + count
        wait_for(lambda: len(self.acknowledged) >= target, timeout, f"{count} more acknowledged writes")

    def finish(self) -> list:
        self.stop_event.set()
        self.join(60)
        return self.acknowledged


def ids_on_cluster(cluster, name: str) -> set:
    read = cluster.read({"collection": name, "filter": {}, "projection": {"_id": 1}})
    return {doc["_id"] for doc in read["documents"]}


def test_crash_slave_kills_highest_pid_and_is_replaced(make_cluster):
    cluster = make_cluster(slaves=2)
    before = cluster.pids()
    master_pid = cluster.master()["pid"]
    response = cluster.post("/api/v1/crash/slave")
    assert response.status_code == 200
    killed = response.json()
    assert killed == [max(p for p in before if p != master_pid)]
    workers = cluster.wait_for_serving(3)
    after = [w["pid"] for w in workers]
    assert killed[0] not in after
    assert master_pid in after


def test_crash_master_keeps_acknowledged_writes(make_cluster):
    cluster = make_cluster(slaves=2)
    name = "crashm" + uuid.uuid4().hex[:6]
    old_master = cluster.master()
    writer = Writer(cluster, name)
    writer.start()
    writer.acknowledged_after(50, 30)

    response = cluster.post("/api/v1/crash/master")
    assert response.status_code == 200
    assert response.json() == [old_master["pid"]]

    new_master = wait_for(lambda: (m := cluster.master()) and m["id"] != old_master["id"] and m, 30, "a new master")
    assert new_master["pid"] == min(cluster.pids())
    writer.acknowledged_after(50, 60)
    acknowledged = writer.finish()

    cluster.wait_for_serving(3)
    workers = cluster.wait_for_convergence()
    assert len({w["digest"] for w in workers}) == 1
    present = ids_on_cluster(cluster, name)
    assert set(acknowledged) <= present
    assert old_master["pid"] not in cluster.pids()


def test_crash_master_with_no_slave_rejected_for_slave(make_cluster):
    cluster = make_cluster(slaves=0)
    response = cluster.post("/api/v1/crash/slave")
    assert response.status_code == 400
    assert "no slave" in response.json()["error"]


def test_late_worker_catches_up_after_1000_writes(make_cluster):
    cluster = make_cluster(slaves=1)
    name = "late" + uuid.uuid4().hex[:6]
    acknowledged = insert_many_acknowledged(cluster, name, 1000)
    assert len(acknowledged) == 1000

    killed = cluster.post("/api/v1/crash/slave").json()[0]
    workers = cluster.wait_for_serving(2)
    assert killed not in [w["pid"] for w in workers]
    workers = cluster.wait_for_convergence()
    master, slave = sorted(workers, key=lambda w: w["role"])
    assert master["role"] == "master"
    assert slave["digest"] == master["digest"]
    assert slave["documents"] >= 1000


def test_clear_goes_through_log_to_new_workers(make_cluster):
    cluster = make_cluster(slaves=1)
    cluster.write({"collection": "before", "op": "insert", "documents": [{"n": 1}, {"n": 2}]})
    response = cluster.post("/api/v1/db/clear", {})
    assert response.status_code == 200
    assert response.json() == {}
    cluster.post("/api/v1/crash/slave")
    cluster.wait_for_serving(2)
    workers = cluster.wait_for_convergence()
    assert [w["documents"] for w in workers] == [0, 0]
    assert cluster.read({"collection": "before", "filter": {}})["documents"] == []


def test_redelivered_write_message_applied_once(make_cluster, rabbitmq):
    cluster = make_cluster(slaves=1)
    queue = cluster.env["WRITE_QUEUE"]
    body = {"op": "update", "collection": "redo", "id": "redelivered-1", "filter": {"_id": "c"},
            "update": {"$inc": {"n": 1}}, "multi": False, "upsert": True, "return_document": False}
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.url))
    channel = connection.channel()
    for _ in range(3):
        channel.basic_publish("", queue, json.dumps(body).encode())
    connection.close()

    def counter():
        documents = cluster.read({"collection": "redo", "filter": {}})["documents"]
        return documents if documents else None

    assert wait_for(counter, 20, "the write") == [{"_id": "c", "n": 1}]
    head = cluster.wait_for_convergence()[0]["position"]
    assert cluster.read({"collection": "redo", "filter": {}, "after": head})["documents"] == [{"_id": "c", "n": 1}]


def read_log(rabbitmq_url: str, queue: str, head: int) -> list:
    """Read the write log from the start up to `head`: a list of (offset, entry)."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=500)
    entries = []
    for method, properties, body in channel.consume(queue, arguments={"x-stream-offset": "first"},
                                                    inactivity_timeout=5):
        if method is None:
            break
        channel.basic_ack(method.delivery_tag)
        entries.append((properties.headers["x-stream-offset"], json.loads(body)))
        if entries[-1][0] >= head:
            break
    connection.close()
    return entries


def test_frozen_master_is_fenced_and_exits(make_cluster, rabbitmq):
    # The orchestrator would kill the frozen master; here it must fence itself after resuming.
    cluster = make_cluster(slaves=2, KILL_EXPIRED_WORKERS="0")
    name = "frozen" + uuid.uuid4().hex[:6]
    old_master = cluster.master()
    writer = Writer(cluster, name)
    writer.start()
    writer.acknowledged_after(30, 30)

    os.kill(old_master["pid"], signal.SIGSTOP)
    try:
        new_master = wait_for(lambda: (m := cluster.master()) and m["id"] != old_master["id"] and m,
                              30, "a new master while the old one is frozen")
        writer.acknowledged_after(30, 60)
    finally:
        os.kill(old_master["pid"], signal.SIGCONT)
    wait_for(lambda: old_master["pid"] not in cluster.pids(), 60, "the resumed old master to exit")
    writer.acknowledged_after(20, 60)
    acknowledged = writer.finish()

    cluster.wait_for_serving(3)
    workers = cluster.wait_for_convergence()
    present = ids_on_cluster(cluster, name)
    assert set(acknowledged) <= present

    # Entries the old master wrote after the new marker are void: their documents
    # exist only if a valid entry (the new master redoing the redelivered write) added them.
    state = EpochState()
    valid_ids, void_ids = set(), set()
    for _offset, entry in read_log(rabbitmq.url, cluster.env["SYNC_QUEUE"], workers[0]["position"]):
        valid = state.observe(entry)
        for write in entry.get("writes", []):
            (valid_ids if valid else void_ids).add(write["id"])
    assert state.owner == new_master["id"] or state.epoch > old_master["epoch"]
    for write_id in void_ids - valid_ids:
        assert write_id not in present


def test_frozen_master_killed_by_orchestrator(make_cluster):
    cluster = make_cluster(slaves=1)
    old_master = cluster.master()
    os.kill(old_master["pid"], signal.SIGSTOP)
    try:
        wait_for(lambda: old_master["pid"] not in cluster.pids(), 30, "the frozen master to be killed")
    finally:
        try:
            os.kill(old_master["pid"], signal.SIGCONT)
        except ProcessLookupError:
            pass  # killed, as expected
    workers = cluster.wait_for_serving(2)
    assert old_master["pid"] not in [w["pid"] for w in workers]
    answer = cluster.write({"collection": "after_freeze", "op": "insert", "document": {"_id": 1}})
    assert answer["inserted"] == 1
