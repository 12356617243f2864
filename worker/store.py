"""The worker's own MongoDB-compatible store: log application, reads, digest.

Internal collections start with an underscore, which no client collection
name can (see common.validation), so no request can reach them:
- ``_meta`` contains the applied log position and epoch state,
- ``_writes`` contains the answer of every valid write, by write id.

NOTE: FerretDB 1.24 on SQLite scans a collection for every filter, even on
``_id`` (its explain shows SCAN), so updates, deletes and reads cost time in
proportion to the collection size; inserts use the unique index and stay fast.
"""

import hashlib
import json
import logging
from collections.abc import Iterable

import pymongo
from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError

from worker.log_rules import EpochState

logger = logging.getLogger(__name__)

META = "_meta"
WRITES = "_writes"
DUPLICATE_KEY = 11000
REPLACE_CHUNK = 50


class Store:
    """A pymongo connection to one worker's database.

    Every method blocks on the store, and errors propagate. During log
    application the worker treats them as fatal, because its data would no
    longer match the log.
    """

    def __init__(self, url: str, database: str) -> None:
        self.client = pymongo.MongoClient(url, serverSelectionTimeoutMS=30000)
        self.db = self.client[database]

    def wait_ready(self) -> None:
        self.client.admin.command("ping")

    # State recorded after the data it covers.

    def load_state(self) -> tuple[int | None, EpochState, dict]:
        """Return the applied position, the epoch state and each write's answer by write id."""
        meta = self.db[META].find_one({"_id": "position"})
        answers = {doc["_id"]: doc["answer"] for doc in self.db[WRITES].find({})}
        if meta is None:
            return None, EpochState(), answers
        return meta["offset"], EpochState(meta["epoch"], meta["owner"]), answers

    def record_position(self, offset: int, state: EpochState) -> None:
        document = {"_id": "position", "offset": offset, **state.as_dict()}
        self.db[META].replace_one({"_id": "position"}, document, upsert=True)

    # Log application.

    def apply(self, entries: Iterable[dict]) -> None:
        """Apply valid write and clear entries in order; applying them again changes nothing.

        Entries carry whole documents, so only the last state of each _id
        in a run of entries matters. A run costs one delete and one insert
        per collection, which keeps replay fast on FerretDB, where a
        replacement by _id scans the collection. A clear ends a run.
        """
        final: dict[str, dict] = {}
        answers = []
        for entry in entries:
            if entry.get("local"):
                # This worker is the master that wrote the entry: its data is
                # already here, and newer local writes may have changed it since.
                pass
            elif entry["kind"] == "clear":
                self._flush(final, answers)
                final, answers = {}, []
                self.clear()
            else:
                states = final.setdefault(entry["collection"], {})
                for document in entry["inserted"]:
                    key = _key(document["_id"])
                    earlier = states.get(key)
                    states[key] = (document["_id"], document, earlier is not None and earlier[2])
                for document in entry["replaced"]:
                    states[_key(document["_id"])] = (document["_id"], document, True)
                for document_id in entry["deleted"]:
                    states[_key(document_id)] = (document_id, None, True)
            answers.append({"_id": entry["id"], "answer": entry["answer"]})
        self._flush(final, answers)

    def _flush(self, final: dict, answers: list) -> None:
        for name, states in final.items():
            collection = self.db[name]
            # Only replaced or deleted documents need a delete first. Inserted ones go
            # straight in, which matters for catch-up: FerretDB scans the collection for $in.
            stale = [document_id for document_id, _, replaced in states.values() if replaced]
            if stale:
                collection.delete_many({"_id": {"$in": stale}})
            current = [document for _, document, _ in states.values() if document is not None]
            self._insert_or_replace(collection, current)
        if answers:
            self._insert_or_replace(self.db[WRITES], answers)

    @staticmethod
    def _insert_or_replace(collection, documents: list) -> None:
        """Insert documents; one that is already there (a re-applied entry) is replaced."""
        if not documents:
            return
        try:
            collection.insert_many(documents, ordered=True)
            return
        except BulkWriteError as error:
            if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise
            done = error.details["nInserted"]
        # An ordered insert stops at the first duplicate: replace from there, in
        # small bulks, because FerretDB 1.24 stalls on a bulk of 100 replacements or more.
        requests = [ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in documents[done:]]
        for start in range(0, len(requests), REPLACE_CHUNK):
            collection.bulk_write(requests[start:start + REPLACE_CHUNK], ordered=True)

    def clear(self) -> None:
        for name in self.collection_names():
            self.db.drop_collection(name)

    def collection_names(self) -> list:
        return sorted(n for n in self.db.list_collection_names() if not n.startswith("_"))

    # Reads.

    def read(self, request: dict) -> dict:
        collection = self.db[request["collection"]]
        if request["count"]:
            options = {}
            if request["limit"]:
                options["limit"] = request["limit"]
            if request["skip"]:
                options["skip"] = request["skip"]
            return {"count": collection.count_documents(request["filter"], **options)}
        cursor = collection.find(request["filter"], request.get("projection"))
        if request.get("sort"):
            cursor = cursor.sort(request["sort"])
        if request["skip"]:
            cursor = cursor.skip(request["skip"])
        if request["limit"]:
            cursor = cursor.limit(request["limit"])
        return {"documents": list(cursor)}

    def digest(self) -> dict:
        """Return a SHA-256 over every client collection, its documents in canonical JSON, sorted."""
        sha = hashlib.sha256()
        documents = 0
        for name in self.collection_names():
            rows = [_canonical(doc) for doc in self.db[name].find({})]
            rows.sort()
            sha.update(name.encode() + b"\0")
            for row in rows:
                sha.update(row.encode() + b"\n")
            documents += len(rows)
        return {"digest": sha.hexdigest(), "documents": documents}

    def close(self) -> None:
        self.client.close()


def _key(document_id) -> str:
    """Return a dict key for an _id that keeps 1 and "1" apart."""
    return f"{type(document_id).__name__}:{document_id!r}"


def _canonical(document: dict) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
