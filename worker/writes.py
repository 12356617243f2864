"""The master's execution of one write request against its own store.

The master applies a write to its store first and logs what it did: whole
documents by _id, so the entry means the same on every worker. If the write
cannot be applied, the store is put back as it was and nothing is logged.
"""

import logging

from bson import ObjectId
from pymongo.errors import BulkWriteError, PyMongoError

from worker.store import Store

logger = logging.getLogger(__name__)


class WriteRejected(Exception):
    """A write that contradicts the data (a duplicate _id, a type error): answered 400."""


def execute(store: Store, request: dict) -> tuple[dict, dict]:
    """Apply a validated request; return (answer, log entry body without epoch and master)."""
    op = request["op"]
    if op == "clear":
        store.clear()
        return {}, {"kind": "clear"}
    collection = store.db[request["collection"]]
    if op == "insert":
        return _insert(collection, request)
    if op == "update":
        return _update(collection, request)
    return _delete(collection, request)


def _entry(collection, inserted=(), replaced=(), deleted=()) -> dict:
    return {
        "kind": "write",
        "collection": collection.name,
        "inserted": list(inserted),
        "replaced": list(replaced),
        "deleted": list(deleted),
    }


def _insert(collection, request: dict) -> tuple[dict, dict]:
    documents = [dict(document) for document in request["documents"]]
    for document in documents:
        # Generated ids are strings so that every answer stays plain JSON.
        document.setdefault("_id", str(ObjectId()))
    ids = [document["_id"] for document in documents]
    if len(set(map(repr, ids))) != len(ids):
        raise WriteRejected("duplicate _id within the request")

    try:
        collection.insert_many(documents, ordered=True)
    except BulkWriteError as error:
        # Undo the prefix that went in before the failing document.
        done = error.details["nInserted"]
        if done:
            collection.delete_many({"_id": {"$in": ids[:done]}})
        failed = error.details["writeErrors"][0]
        raise WriteRejected(f"insert failed on _id {ids[failed['index']]!r}: {_reason(failed)}") from None
    answer = {"inserted": len(ids), "inserted_ids": ids}
    return answer, _entry(collection, inserted=documents)


def _update(collection, request: dict) -> tuple[dict, dict]:
    limit = 0 if request["multi"] else 1
    before = list(collection.find(request["filter"], limit=limit))
    if not before:
        if request["upsert"]:
            return _upsert(collection, request)
        answer = {"matched": 0, "modified": 0}
        if request["return_document"]:
            answer["document"] = None
        return answer, _entry(collection)

    ids = [document["_id"] for document in before]
    try:
        collection.update_many({"_id": {"$in": ids}}, request["update"])
    except PyMongoError as error:
        _restore(collection, before)
        raise WriteRejected(f"update failed: {_reason(error)}") from None
    after = list(collection.find({"_id": {"$in": ids}}))
    changed = [document for document in after if document not in before]
    answer = {"matched": len(before), "modified": len(changed)}
    if request["return_document"]:
        answer["document"] = after[0] if after else None
    return answer, _entry(collection, replaced=changed)


def _upsert(collection, request: dict) -> tuple[dict, dict]:
    update = dict(request["update"])
    new_id = str(ObjectId())
    if not _has_id_equality(request["filter"]):
        # The master fixes the new document's _id so every worker stores the same one.
        update["$setOnInsert"] = {**update.get("$setOnInsert", {}), "_id": new_id}
    try:
        result = collection.update_one(request["filter"], update, upsert=True)
    except PyMongoError as error:
        collection.delete_one({"_id": new_id})
        raise WriteRejected(f"upsert failed: {_reason(error)}") from None
    document = collection.find_one({"_id": result.upserted_id})
    answer = {"matched": 0, "modified": 0, "upserted_id": result.upserted_id}
    if request["return_document"]:
        answer["document"] = document
    return answer, _entry(collection, inserted=[document])


def _has_id_equality(query: dict) -> bool:
    """Tell whether an upsert takes its _id from the filter, as MongoDB does for an equality on _id."""
    if "_id" not in query:
        return False
    value = query["_id"]
    return not (isinstance(value, dict) and any(key.startswith("$") for key in value))


def _delete(collection, request: dict) -> tuple[dict, dict]:
    limit = 0 if request["multi"] else 1
    ids = [document["_id"] for document in collection.find(request["filter"], {"_id": 1}, limit=limit)]
    if ids:
        collection.delete_many({"_id": {"$in": ids}})
    return {"deleted": len(ids)}, _entry(collection, deleted=ids)


def _restore(collection, documents: list) -> None:
    for document in documents:
        collection.replace_one({"_id": document["_id"]}, document, upsert=True)


def _reason(error) -> str:
    if isinstance(error, dict):
        return error.get("errmsg", "rejected by the store")
    details = getattr(error, "details", None) or {}
    return details.get("errmsg") or str(error).split(", full error")[0]
