"""The master's execution of one write request against its own store.

The master applies a write to its store first and logs what it did: whole
documents by _id, so the entry means the same on every worker. Each execution
also returns an undo function, so that a write the store rejects, or whose
entry turns out too large for the log, leaves the store as it was and is
rejected with 400 without anything being logged.
"""

import logging
from collections.abc import Callable

from bson import ObjectId
from bson.errors import BSONError
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError

from worker.store import Store

logger = logging.getLogger(__name__)

Undo = Callable[[], None]


class WriteRejected(Exception):
    """A write that contradicts the data or that the store cannot hold: HTTP 400, nothing logged."""


def execute(store: Store, request: dict) -> tuple[dict, dict, Undo]:
    """Apply a validated request; return (answer, log entry body without epoch and master, undo).

    Raises WriteRejected with the store left unchanged. A lost store
    connection (ConnectionFailure) propagates: the worker must exit.
    """
    op = request["op"]
    if op == "clear":
        store.clear()
        return {}, {"kind": "clear"}, _nothing
    collection = store.db[request["collection"]]
    operation = {"insert": _insert, "update": _update, "delete": _delete}[op]
    try:
        return operation(collection, request)
    except ConnectionFailure:
        raise
    except (PyMongoError, BSONError) as error:
        # The operation's own undo already ran where a partial change was possible.
        raise WriteRejected(f"{op} failed: {_reason(error)}") from None


def _nothing() -> None:
    pass


def _entry(collection, inserted=(), replaced=(), deleted=()) -> dict:
    return {
        "kind": "write",
        "collection": collection.name,
        "inserted": list(inserted),
        "replaced": list(replaced),
        "deleted": list(deleted),
    }


def _insert(collection, request: dict) -> tuple[dict, dict, Undo]:
    documents = [dict(document) for document in request["documents"]]
    for document in documents:
        # Generated ids are strings so that every answer stays plain JSON.
        document.setdefault("_id", str(ObjectId()))
    ids = [document["_id"] for document in documents]
    if len(set(map(repr, ids))) != len(ids):
        raise WriteRejected("duplicate _id within the request")

    def undo() -> None:
        collection.delete_many({"_id": {"$in": ids}})

    try:
        collection.insert_many(documents, ordered=True)
    except BulkWriteError as error:
        # An ordered insert stops at the first failure: remove what went in before it.
        done = error.details["nInserted"]
        if done:
            collection.delete_many({"_id": {"$in": ids[:done]}})
        failed = error.details["writeErrors"][0]
        raise WriteRejected(f"insert failed on _id {ids[failed['index']]!r}: {_reason(failed)}") from None
    except (PyMongoError, BSONError):
        undo()
        raise
    answer = {"inserted": len(ids), "inserted_ids": ids}
    return answer, _entry(collection, inserted=documents), undo


def _update(collection, request: dict) -> tuple[dict, dict, Undo]:
    limit = 0 if request["multi"] else 1
    before = list(collection.find(request["filter"], limit=limit))
    if not before:
        if request["upsert"]:
            return _upsert(collection, request)
        answer = {"matched": 0, "modified": 0}
        if request["return_document"]:
            answer["document"] = None
        return answer, _entry(collection), _nothing

    def undo() -> None:
        for document in before:
            collection.replace_one({"_id": document["_id"]}, document, upsert=True)

    ids = [document["_id"] for document in before]
    try:
        collection.update_many({"_id": {"$in": ids}}, request["update"])
    except (PyMongoError, BSONError):
        undo()
        raise
    after = list(collection.find({"_id": {"$in": ids}}))
    changed = [document for document in after if document not in before]
    answer = {"matched": len(before), "modified": len(changed)}
    if request["return_document"]:
        answer["document"] = after[0] if after else None
    return answer, _entry(collection, replaced=changed), undo


def _upsert(collection, request: dict) -> tuple[dict, dict, Undo]:
    update = dict(request["update"])
    if not _has_id_equality(request["filter"]):
        # The master fixes the new document's _id so every worker stores the same one.
        update["$setOnInsert"] = {**update.get("$setOnInsert", {}), "_id": str(ObjectId())}
    result = collection.update_one(request["filter"], update, upsert=True)
    new_id = result.upserted_id

    def undo() -> None:
        collection.delete_one({"_id": new_id})

    document = collection.find_one({"_id": new_id})
    answer = {"matched": 0, "modified": 0, "upserted_id": new_id}
    if request["return_document"]:
        answer["document"] = document
    return answer, _entry(collection, inserted=[document]), undo


def _has_id_equality(query: dict) -> bool:
    """Tell whether an upsert takes its _id from the filter, as MongoDB does for an equality on _id."""
    if "_id" not in query:
        return False
    value = query["_id"]
    return not (isinstance(value, dict) and any(key.startswith("$") for key in value))


def _delete(collection, request: dict) -> tuple[dict, dict, Undo]:
    limit = 0 if request["multi"] else 1
    before = list(collection.find(request["filter"], limit=limit))
    ids = [document["_id"] for document in before]

    def undo() -> None:
        for document in before:
            collection.replace_one({"_id": document["_id"]}, document, upsert=True)

    if ids:
        collection.delete_many({"_id": {"$in": ids}})
    return {"deleted": len(ids)}, _entry(collection, deleted=ids), undo


def _reason(error) -> str:
    if isinstance(error, dict):
        return error.get("errmsg", "rejected by the store")
    details = getattr(error, "details", None) or {}
    return details.get("errmsg") or str(error).split(", full error")[0]
