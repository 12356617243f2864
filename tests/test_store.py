"""The worker's store on a real FerretDB: applying log entries again changes nothing."""

from worker import writes
from worker.log_rules import EpochState
from worker.store import Store


def entry(body: dict, write_id: str, answer: dict) -> dict:
    return {**body, "epoch": 1, "master": "m", "id": write_id, "answer": answer}


def test_replayed_entries_change_nothing(ferretdb):
    master = Store(ferretdb.url, "master")
    replica = Store(ferretdb.url, "replica")
    requests = [
        {"op": "insert", "collection": "rides", "documents": [{"_id": 1, "users": []}, {"_id": 2, "users": []}]},
        {"op": "update", "collection": "rides", "filter": {"_id": 1}, "update": {"$push": {"users": "bob"}},
         "multi": False, "upsert": False, "return_document": False},
        {"op": "delete", "collection": "rides", "filter": {"_id": 2}, "multi": False},
        {"op": "insert", "collection": "rides", "documents": [{"_id": 2, "users": ["new"]}]},
        {"op": "clear"},
        {"op": "insert", "collection": "users", "documents": [{"_id": "alice"}]},
        {"op": "update", "collection": "counters", "filter": {"_id": "rideId"}, "update": {"$inc": {"value": 1}},
         "multi": False, "upsert": True, "return_document": True},
    ]
    entries = []
    for i, request in enumerate(requests):
        answer, body, _ = writes.execute(master, request)
        entries.append(entry(body, f"w{i}", answer))

    replica.apply(entries)
    once = replica.digest()
    assert once == master.digest()

    # A worker that crashed after applying but before recording its position
    # applies a suffix of the log again, and the whole log again after that.
    replica.apply(entries[3:])
    assert replica.digest() == once
    replica.apply(entries)
    assert replica.digest() == once
    assert once["documents"] == 2


def test_position_and_answers_survive_reload(ferretdb):
    store = Store(ferretdb.url, "state")
    state = EpochState(3, "m")
    store.apply([entry({"kind": "write", "collection": "c", "inserted": [{"_id": 1}], "replaced": [],
                        "deleted": []}, "w1", {"inserted": 1, "position": 7})])
    store.record_position(7, state)
    reopened = Store(ferretdb.url, "state")
    position, epochs, answers = reopened.load_state()
    assert position == 7
    assert epochs == state
    assert answers == {"w1": {"inserted": 1, "position": 7}}


def test_rejected_insert_leaves_no_prefix(ferretdb):
    store = Store(ferretdb.url, "reject")
    writes.execute(store, {"op": "insert", "collection": "u", "documents": [{"_id": "a"}]})
    before = store.digest()
    try:
        writes.execute(store, {"op": "insert", "collection": "u", "documents": [{"_id": "b"}, {"_id": "a"}]})
    except writes.WriteRejected as error:
        assert "duplicate key" in str(error)
    else:
        raise AssertionError("a duplicate _id was accepted")
    assert store.digest() == before


def test_failed_update_restores_documents(ferretdb):
    store = Store(ferretdb.url, "restore")
    writes.execute(store, {"op": "insert", "collection": "u", "documents": [{"_id": 1, "n": 1}, {"_id": 2, "n": "x"}]})
    before = store.digest()
    request = {"op": "update", "collection": "u", "filter": {}, "update": {"$inc": {"n": 1}},
               "multi": True, "upsert": False, "return_document": False}
    try:
        writes.execute(store, request)
    except writes.WriteRejected as error:
        assert "update failed" in str(error)
    else:
        raise AssertionError("$inc on a string was accepted")
    assert store.digest() == before
