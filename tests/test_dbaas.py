"""Reads, writes and bad input against a real local cluster (RabbitMQ, ZooKeeper, FerretDB)."""

import uuid

import pytest


def fresh_collection() -> str:
    return "t" + uuid.uuid4().hex[:10]


def test_write_then_read_after_sees_it(local_cluster):
    name = fresh_collection()
    answer = local_cluster.write({"collection": name, "op": "insert", "document": {"_id": "a", "n": 1}})
    assert answer["inserted"] == 1
    assert isinstance(answer["position"], int)
    read = local_cluster.read({"collection": name, "filter": {}, "after": answer["position"]})
    assert read["documents"] == [{"_id": "a", "n": 1}]


def test_filter_projection_sort_limit_count(local_cluster):
    name = fresh_collection()
    documents = [{"_id": i, "n": i, "even": i % 2 == 0, "tag": "x"} for i in range(10)]
    answer = local_cluster.write({"collection": name, "op": "insert", "documents": documents})
    after = answer["position"]

    read = local_cluster.read({"collection": name, "filter": {"even": True}, "projection": {"n": 1, "_id": 0},
                               "sort": [["n", -1]], "limit": 3, "after": after})
    assert read["documents"] == [{"n": 8}, {"n": 6}, {"n": 4}]

    read = local_cluster.read({"collection": name, "filter": {"n": {"$gte": 5}}, "count": True, "after": after})
    assert read == {"count": 5}

    read = local_cluster.read({"collection": name, "filter": {}, "sort": [["n", 1]], "skip": 8, "after": after})
    assert [d["_id"] for d in read["documents"]] == [8, 9]


def test_update_and_delete_report_counts(local_cluster):
    name = fresh_collection()
    local_cluster.write({"collection": name, "op": "insert", "documents": [{"_id": i, "n": i} for i in range(4)]})
    answer = local_cluster.write({"collection": name, "op": "update", "filter": {"n": {"$lt": 3}},
                                  "update": {"$inc": {"n": 10}}, "multi": True})
    assert answer["matched"] == 3
    assert answer["modified"] == 3
    answer = local_cluster.write({"collection": name, "op": "update", "filter": {"_id": 3},
                                  "update": {"$set": {"s": "x"}}, "return_document": True})
    assert answer["document"] == {"_id": 3, "n": 3, "s": "x"}
    answer = local_cluster.write({"collection": name, "op": "delete", "filter": {"n": {"$gte": 10}}, "multi": True})
    assert answer["deleted"] == 3
    read = local_cluster.read({"collection": name, "filter": {}, "after": answer["position"]})
    assert read["documents"] == [{"_id": 3, "n": 3, "s": "x"}]


def test_upsert_counter_gives_distinct_values(local_cluster):
    name = fresh_collection()
    values = []
    for _ in range(5):
        answer = local_cluster.write({"collection": name, "op": "update", "filter": {"_id": "rideId"},
                                      "update": {"$inc": {"value": 1}}, "upsert": True, "return_document": True})
        values.append(answer["document"]["value"])
    assert values == [1, 2, 3, 4, 5]


def test_generated_ids_are_the_same_on_every_worker(local_cluster):
    name = fresh_collection()
    answer = local_cluster.write({"collection": name, "op": "insert", "documents": [{"n": 1}, {"n": 2}]})
    assert len(answer["inserted_ids"]) == 2
    local_cluster.write({"collection": name, "op": "update", "filter": {"k": 1},
                         "update": {"$set": {"v": 1}}, "upsert": True})
    workers = local_cluster.wait_for_convergence()
    assert len(workers) == 2


def test_duplicate_key_rejected_and_not_logged(local_cluster):
    name = fresh_collection()
    local_cluster.write({"collection": name, "op": "insert", "document": {"_id": "a"}})
    head = local_cluster.wait_for_convergence()[0]["position"]
    response = local_cluster.post("/api/v1/db/write", {"collection": name, "op": "insert",
                                                       "documents": [{"_id": "b"}, {"_id": "a"}]})
    assert response.status_code == 400
    assert "duplicate key" in response.json()["error"]
    read = local_cluster.read({"collection": name, "filter": {}})
    assert read["documents"] == [{"_id": "a"}]
    assert local_cluster.wait_for_convergence()[0]["position"] == head


def test_same_write_id_applied_once(local_cluster):
    name = fresh_collection()
    body = {"collection": name, "op": "update", "filter": {"_id": "c"}, "update": {"$inc": {"v": 1}},
            "upsert": True, "id": "retry-" + name}
    first = local_cluster.write(body)
    second = local_cluster.write(body)
    assert second == first
    read = local_cluster.read({"collection": name, "filter": {}, "after": first["position"]})
    assert read["documents"] == [{"_id": "c", "v": 1}]


BAD_REQUESTS = [
    ("/api/v1/db/write", b"{not json"),
    ("/api/v1/db/write", b"[]"),
    ("/api/v1/db/write", b'{"collection": "users", "op": "rename"}'),
    ("/api/v1/db/write", b'{"collection": "system.users", "op": "insert", "document": {}}'),
    ("/api/v1/db/write", b'{"collection": "_writes", "op": "delete", "filter": {}}'),
    ("/api/v1/db/write", b'{"collection": "users", "op": "delete", "filter": {"$where": "true"}}'),
    ("/api/v1/db/write", b'{"collection": "users", "op": "update", "filter": {"a": {"$function": {}}},'
                         b' "update": {"$set": {"a": 1}}}'),
    ("/api/v1/db/write", b'{"collection": "users", "op": "insert", "document": {"$x": 1}}'),
    ("/api/v1/db/read", b'{"collection": "users", "filter": {"$accumulator": {}}}'),
    ("/api/v1/db/read", b'{"collection": "../etc", "filter": {}}'),
    ("/api/v1/db/clear", b'{"everything": true}'),
]


@pytest.mark.parametrize("path, body", BAD_REQUESTS)
def test_bad_input_rejected_without_logging(local_cluster, path, body):
    head = local_cluster.wait_for_convergence()[0]["position"]
    response = local_cluster.session.post(local_cluster.url + path, data=body,
                                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]
    assert local_cluster.status()["log_head"] == head


def test_oversized_body_rejected(local_cluster):
    head = local_cluster.wait_for_convergence()[0]["position"]
    body = b'{"collection": "big", "op": "insert", "document": {"x": "' + b"a" * (17 * 1024 * 1024) + b'"}}'
    response = local_cluster.session.post(local_cluster.url + "/api/v1/db/write", data=body, timeout=60)
    assert response.status_code == 400
    assert "larger than" in response.json()["error"]
    assert local_cluster.status()["log_head"] == head


def test_wrong_method_and_unknown_route(local_cluster):
    assert local_cluster.get("/api/v1/db/write").status_code == 405
    assert local_cluster.post("/api/v1/worker/list").status_code == 405
    assert local_cluster.get("/api/v1/nothing").status_code == 404


def test_worker_list_sorted_and_master_lowest(local_cluster):
    pids = local_cluster.pids()
    assert pids == sorted(pids)
    assert len(pids) == 2
    assert local_cluster.master()["pid"] == pids[0]


@pytest.mark.parametrize("query", [{"a": {"$regex": "("}}, {"a": {"$nosuchoperator": 1}}, {"$nosuch": 1}])
def test_query_store_rejects_is_400_and_workers_survive(local_cluster, query):
    name = fresh_collection()
    local_cluster.write({"collection": name, "op": "insert", "document": {"a": "text"}})
    pids = local_cluster.pids()
    response = local_cluster.post("/api/v1/db/read", {"collection": name, "filter": query})
    assert response.status_code == 400
    assert "read failed" in response.json()["error"]
    response = local_cluster.post("/api/v1/db/write", {"collection": name, "op": "delete", "filter": query})
    assert response.status_code == 400
    assert "delete failed" in response.json()["error"]
    assert local_cluster.pids() == pids


def test_update_store_rejects_changes_nothing(local_cluster):
    name = fresh_collection()
    local_cluster.write({"collection": name, "op": "insert", "documents": [{"_id": 1, "n": 1}, {"_id": 2, "n": "x"}]})
    pids = local_cluster.pids()
    response = local_cluster.post("/api/v1/db/write", {"collection": name, "op": "update", "filter": {},
                                                       "update": {"$inc": {"n": 1}}, "multi": True})
    assert response.status_code == 400
    assert "update failed" in response.json()["error"]
    documents = local_cluster.read({"collection": name, "filter": {}, "sort": [["_id", 1]]})["documents"]
    assert documents == [{"_id": 1, "n": 1}, {"_id": 2, "n": "x"}]
    assert local_cluster.pids() == pids
    local_cluster.wait_for_convergence()


POISON_BODIES = [
    ("/api/v1/db/read", b'{"collection": "p", "filter": {"n": 99999999999999999999}}'),
    ("/api/v1/db/read", b'{"collection": "p", "filter": {}, "limit": 100000000000000000000}'),
    ("/api/v1/db/read", b'{"collection": "p", "filter": {"n": NaN}}'),
    ("/api/v1/db/read", b'{"collection": "p", "filter": {"s": "\\ud800"}}'),
    ("/api/v1/db/write", b'{"collection": "p", "op": "insert", "document": {"_id": 18446744073709551616}}'),
    ("/api/v1/db/write", b'{"collection": "p", "op": "insert", "document": {"n": NaN}}'),
    ("/api/v1/db/write", b'{"collection": "p", "op": "update", "filter": {}, "update": {"$set": {"s": "\\udc00"}}}'),
    ("/api/v1/db/write", b'{"collection": "p", "op": ["insert"]}'),
    ("/api/v1/db/write", b'{"collection": "p", "op": "update", "filter": {}, "update": {"$currentDate": {"d": true}}}'),
    ("/api/v1/db/write", b"[" * 5000 + b"]" * 5000),
]


@pytest.mark.parametrize("path, body", POISON_BODIES)
def test_unstorable_values_rejected_workers_unharmed(local_cluster, path, body):
    local_cluster.write({"collection": "p", "op": "insert", "document": {"n": 1, "s": "x"}})
    pids = local_cluster.pids()
    response = local_cluster.session.post(local_cluster.url + path, data=body, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]
    assert local_cluster.pids() == pids
    assert local_cluster.post("/api/v1/db/read", {"collection": "p", "filter": {}}).status_code == 200


def test_multi_update_of_many_documents_replicates(local_cluster):
    name = fresh_collection()
    local_cluster.write({"collection": name, "op": "insert", "documents": [{"_id": i, "n": i} for i in range(250)]})
    answer = local_cluster.write({"collection": name, "op": "update", "filter": {}, "update": {"$inc": {"n": 1}},
                                  "multi": True})
    assert answer["matched"] == 250
    assert answer["modified"] == 250
    read = local_cluster.read({"collection": name, "filter": {"n": 250}, "after": answer["position"]})
    assert read["documents"] == [{"_id": 249, "n": 250}]
    local_cluster.wait_for_convergence()


def test_type_only_change_replicates(local_cluster):
    name = fresh_collection()
    local_cluster.write({"collection": name, "op": "insert", "document": {"_id": 1, "v": 1}})
    answer = local_cluster.write({"collection": name, "op": "update", "filter": {"_id": 1},
                                  "update": {"$set": {"v": 1.5}}})
    answer = local_cluster.write({"collection": name, "op": "update", "filter": {"_id": 1},
                                  "update": {"$set": {"v": True}}})
    assert answer["modified"] == 1
    workers = local_cluster.wait_for_convergence()
    assert len({w["digest"] for w in workers}) == 1
    read = local_cluster.read({"collection": name, "filter": {}, "after": answer["position"]})
    assert read["documents"] == [{"_id": 1, "v": True}]
