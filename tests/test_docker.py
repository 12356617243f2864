"""End-to-end tests of the compose stack in a real Docker engine.

The tests run in file order and share one stack (tests/compose.py): each
leaves it with one master and one slave serving.
"""

import hashlib
import os
import time
import uuid

import docker
import pytest

from tests.cluster import wait_for
from tests.compose import LABEL, PROJECT, Stack, clean, local_images_env
from tests.faults import Api, DockerFaults, RoundConfig, format_report, run_round


def engine_running() -> bool:
    try:
        docker.from_env().ping()
        return True
    except Exception:  # docker-py raises several types when no engine runs
        return False


# CI starts an engine, so there a missing engine is a failure, not a skip.
pytestmark = pytest.mark.skipif(not engine_running() and not os.environ.get("CI"),
                                reason="no Docker engine is running")


@pytest.fixture(scope="module")
def stack():
    stack = Stack()
    try:
        stack.up()
        stack.wait_for_serving(2)
        yield stack
    finally:
        clean(stack)


def test_up_starts_master_and_slave_with_container_pids(stack):
    pids = stack.pids()
    assert len(pids) == 2
    containers = stack.worker_containers()
    assert sorted(c.attrs["State"]["Pid"] for c in containers) == pids
    assert stack.master()["pid"] == pids[0]


def test_write_and_read_through_published_port(stack):
    answer = stack.write({"collection": "e2e", "op": "insert", "document": {"_id": "a", "n": 1}})
    read = stack.read({"collection": "e2e", "filter": {"_id": "a"}, "after": answer["position"]})
    assert read["documents"] == [{"_id": "a", "n": 1}]


def test_crash_master_fails_over_to_slave_container(stack):
    acknowledged = [stack.write({"collection": "crashm", "op": "insert", "document": {"_id": i}})["position"]
                    for i in range(20)]
    old = stack.master()
    slave = [w for w in stack.status()["workers"] if w["role"] == "slave"][0]
    response = stack.session.post(stack.url + "/api/v1/crash/master", timeout=30)
    assert response.json() == [old["pid"]]

    new = wait_for(lambda: (m := stack.master()) and m["id"] != old["id"] and m, 30, "a new master")
    assert new["id"] == slave["id"]
    answer = stack.write({"collection": "crashm", "op": "insert", "document": {"_id": 100}})
    assert answer["position"] > acknowledged[-1]
    workers = stack.wait_for_serving(2)
    assert old["pid"] not in [w["pid"] for w in workers]
    assert len(stack.worker_containers()) == 2
    read = stack.read({"collection": "crashm", "filter": {}, "count": True, "after": answer["position"]})
    assert read == {"count": 21}


def test_crash_slave_replacement_serves_all_data(stack):
    pids = stack.pids()
    master = stack.master()
    response = stack.session.post(stack.url + "/api/v1/crash/slave", timeout=30)
    killed = response.json()
    assert killed == [max(p for p in pids if p != master["pid"])]
    began = time.monotonic()
    workers = stack.wait_for_serving(2, timeout=60)
    assert killed[0] not in [w["pid"] for w in workers]
    converged = stack.wait_for_convergence(timeout=60 - (time.monotonic() - began))
    assert len({w["digest"] for w in converged}) == 1


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def test_rideshare_through_gateway_survives_master_crash(stack):
    gateway = stack.gateway
    session = stack.session
    alice, bob = "alice" + uuid.uuid4().hex[:6], "bob" + uuid.uuid4().hex[:6]
    for name in (alice, bob):
        response = session.put(gateway + "/api/v1/users", json={"username": name, "password": sha1(name)}, timeout=30)
        assert response.status_code == 201, response.text
    ride = {"created_by": alice, "timestamp": "01-01-2099:00-00-10", "source": 1, "destination": "198"}
    response = session.post(gateway + "/api/v1/rides", json=ride, timeout=30)
    assert response.status_code == 201, response.text
    listed = session.get(gateway + "/api/v1/rides", params={"source": 1, "destination": 198}, timeout=30)
    assert listed.status_code == 200
    ride_id = [r for r in listed.json() if r["username"] == alice][0]["rideId"]
    response = session.post(f"{gateway}/api/v1/rides/{ride_id}", json={"username": bob}, timeout=30)
    assert response.status_code == 200, response.text

    crashed = session.post(stack.url + "/api/v1/crash/master", timeout=30)
    assert crashed.status_code == 200
    stack.wait_for_serving(2)

    details = session.get(f"{gateway}/api/v1/rides/{ride_id}", timeout=30)
    assert details.status_code == 200
    assert details.json()["users"] == [bob]
    users = session.get(gateway + "/api/v1/users", timeout=30).json()
    assert {alice, bob} <= set(users)
    carol = "carol" + uuid.uuid4().hex[:6]
    response = session.put(gateway + "/api/v1/users", json={"username": carol, "password": sha1(carol)}, timeout=30)
    assert response.status_code == 201


def test_orchestrator_restart_adopts_workers(stack):
    before = stack.pids()
    answer = stack.write({"collection": "adopt", "op": "insert", "document": {"_id": "kept"}})
    stack.compose("restart", "orchestrator")
    stack.wait_healthy()
    assert stack.pids() == before
    assert len(stack.worker_containers()) == 2
    read = stack.read({"collection": "adopt", "filter": {}, "after": answer["position"]})
    assert read["documents"] == [{"_id": "kept"}]


def test_autoscaling_adds_then_removes_slave_containers(stack):
    env = dict(stack.env, AUTOSCALE_WINDOW="15")
    stack.compose("up", "-d", "orchestrator", env=env)
    stack.wait_healthy()
    for _ in range(45):
        stack.read({"collection": "scale", "filter": {}})
    workers = stack.wait_for_serving(4, timeout=90)
    assert len(stack.worker_containers()) == 4
    assert min(w["pid"] for w in workers) == stack.master()["pid"]
    stack.wait_for_serving(2, timeout=90)
    wait_for(lambda: len(stack.worker_containers()) == 2, 30, "scaled-in containers to go")
    stack.compose("up", "-d", "orchestrator")
    stack.wait_healthy()


def test_faults_on_containers_lose_no_acknowledged_write(stack, tmp_path):
    kinds = ("kill-master", "pause-master", "partition-master")
    faults = DockerFaults(Api(stack.url), float(stack.env["ZK_SESSION_TIMEOUT"]), stack.env["DOCKER_NETWORK"])
    config = RoundConfig(seed=5, seconds=45, kinds=kinds, faults=3, writers=4, rate=30, slaves=1)

    report = run_round(stack.url, faults, config, tmp_path / "history.jsonl")
    table = format_report(report)
    print(table)

    assert sorted(f["kind"] for f in report["faults"]) == sorted(kinds), table
    assert all(f["recovery"] is not None for f in report["faults"]), table
    assert report["acknowledged"] > 0, table
    assert report["missing"] == 0, table
    assert report["duplicates"] == 0, table
    assert report["divergent"] == 0, table
    assert report["failed present"] == 0, table
    assert report["converged"], table
    assert report["ok after last fault"] > 0, table


def test_down_then_up_keeps_data(stack):
    answer = stack.write({"collection": "persist", "op": "insert", "document": {"_id": "survivor"}})
    assert answer["position"] > 0
    stack.compose("down")
    assert stack.worker_containers() == []
    stack.up()
    stack.wait_for_serving(2)
    read = stack.read({"collection": "persist", "filter": {}})
    assert read["documents"] == [{"_id": "survivor"}]


def test_docker_clean_removes_only_project_containers(stack):
    bystander = stack.client.containers.run(
        local_images_env().get("PYTHON_IMAGE", "python:3.12-slim"), ["sleep", "300"], detach=True,
        name="bystander-" + uuid.uuid4().hex[:6])
    try:
        result = clean(stack)
        assert result.returncode == 0, result.stdout + result.stderr
        project = stack.client.containers.list(all=True, filters={"label": LABEL})
        assert project == []
        compose_made = stack.client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})
        assert compose_made == []
        assert stack.client.volumes.list(filters={"label": f"com.docker.compose.project={PROJECT}"}) == []
        bystander.reload()
        assert bystander.status == "running"
    finally:
        bystander.remove(force=True)
