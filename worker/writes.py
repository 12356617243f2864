"""The master's execution of one write request against its own store.

The master applies a write to its store first and logs what it did: whole
documents by _id, so the entry means the same on every worker. Each execution
also returns an undo function, so that a write the store rejects, or whose
entry turns out too large for the log, leaves the store as it was and is
rejected with 400 without anything being logged.
"""

import json
import logging
from collections.abc import Callable

from bson import ObjectId
from pymongo.errors import BulkWriteError, ConnectionFailure

from worker.store import Store

logger = logging.getLogger(__name__)

Undo = Callable[[], None]

# Internal collection (the leading underscore keeps clients out) where updates are computed.
SCRATCH = "_scratch"
SCRATCH_CHUNK = 100


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
    except Exception as error:
        # Anything else comes from the request itself (a type the store
        # rejects, a value it cannot encode), and failing the worker would only
        # make the broker redeliver the request to the next one. The
        # operation's own undo already ran where a partial change was possible.
        logger.warning("%s on %s failed: %r", op, request["collection"], error)
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
    except Exception:
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

    # The store rejects a bad update in the scratch collection, before the
    # real collection changes, so a rejection needs no undo.
    after = _updated_copies(collection.database[SCRATCH], before, request["update"])
    ids = [document["_id"] for document in before]

    def undo() -> None:
        collection.delete_many({"_id": {"$in": ids}})
        collection.insert_many(before)

    collection.delete_many({"_id": {"$in": ids}})
    try:
        collection.insert_many(after)
    except Exception:
        undo()
        raise
    changed = [new for old, new in zip(before, after, strict=True) if _canonical(old) != _canonical(new)]
    answer = {"matched": len(before), "modified": len(changed)}
    if request["return_document"]:
        answer["document"] = after[0]
    return answer, _entry(collection, replaced=changed), undo


def _updated_copies(scratch, documents: list, update: dict) -> list:
    """Return `documents` with `update` applied, in the same order, computed in a scratch collection.

    FerretDB 1.24 scans the whole collection for each document an update
    touches, so updating k of n documents in place costs k * n (5,000 of
    5,000 took 29 s here). Chunks of SCRATCH_CHUNK documents keep both small.
    """
    updated: list = []
    try:
        for start in range(0, len(documents), SCRATCH_CHUNK):
            chunk = documents[start:start + SCRATCH_CHUNK]
            scratch.delete_many({})
            scratch.insert_many(chunk)
            scratch.update_many({}, update)
            by_key = {_canonical(document["_id"]): document for document in scratch.find({})}
            updated += [by_key[_canonical(document["_id"])] for document in chunk]
    finally:
        scratch.delete_many({})
    return updated


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
        collection.insert_many(before)

    if ids:
        collection.delete_many({"_id": {"$in": ids}})
    return {"deleted": len(ids)}, _entry(collection, deleted=ids), undo


def _canonical(value) -> str:
    """Return JSON text that distinguishes 1, 1.0 and True, which Python's == does not."""
    return json.dumps(value, sort_keys=True, default=repr)


def _reason(error) -> str:
    if isinstance(error, dict):
        return error.get("errmsg", "rejected by the store")
    details = getattr(error, "details", None) or {}
    return details.get("errmsg") or str(error).split(", full error")[0]
