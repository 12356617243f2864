"""HTTP client of the DBaaS (the orchestrator's db/read, db/write and db/clear), shared by
the users and rides services.

Usage:
    client = DBaaSClient()                      # URL, timeout and retries from settings
    client.insert("users", {"_id": "alice", "password": "..."})
    names = client.find("users", projection={"_id": 1}, sort=[["_id", 1]])

Every call blocks until the orchestrator responds or the retries run out.
"""

import logging
import threading
import time
import uuid
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from common.config import settings

logger = logging.getLogger(__name__)

# Short pauses between attempts, indexed by attempt number; the last value repeats.
BACKOFF_SECONDS = (0.1, 0.25, 0.5, 1.0)
POOL_SIZE = 32


class DBaaSError(Exception):
    """A DBaaS call failed. `status` is the HTTP status of the response, or None when there was none."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class DBaaSUnavailable(DBaaSError):
    """The DBaaS did not confirm the call in time (503, timeout, connection error), retries included."""


class DBaaSRejected(DBaaSError):
    """The DBaaS returned 4xx because the request was invalid or contradicts the data (a duplicate _id, say)."""


class DBaaSClient:
    """Client of one orchestrator, safe to share between threads.

    Read-your-writes: the client remembers the highest log position of any write it made
    and sends it as `after` on every read, so a read reflects every write this client
    made before it. The position is kept per client, not per thread, because a service's
    threads are a pool. An HTTP caller's next request (say, a listing after a create)
    may land on another thread than its write did, and must still reflect that write.
    The cost is that a read may wait for writes of other requests that it does not need.
    """

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> None:
        self.base_url = (base_url or settings.dbaas_url).rstrip("/")
        self.timeout = settings.dbaas_timeout if timeout is None else timeout
        self.retries = settings.dbaas_retries if retries is None else retries
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._position_lock = threading.Lock()
        self._last_position: int | None = None

    @property
    def last_position(self) -> int | None:
        """Highest log position of a write made by this client, or None before the first."""
        with self._position_lock:
            return self._last_position

    def remember_position(self, position: Any) -> None:
        """Raise the read-your-writes position to `position` (ignored unless a larger int)."""
        if isinstance(position, bool) or not isinstance(position, int):
            return
        with self._position_lock:
            if self._last_position is None or position > self._last_position:
                self._last_position = position

    # Writes.

    def write(self, body: dict) -> dict:
        """Send one db/write body and return the response body.

        The body gets a fresh write id unless it has one. Every retry (after a 503, a
        timeout or a connection error) resends the same id, so the orchestrator applies
        the write at most once and returns the original result to a retry.
        """
        body = dict(body)
        body.setdefault("id", uuid.uuid4().hex)
        answer = self._post("/api/v1/db/write", body, retry=True)
        self.remember_position(answer.get("position"))
        return answer

    def insert(self, collection: str, document: dict) -> dict:
        """Insert one document. A duplicate `_id` raises DBaaSRejected."""
        return self.write({"collection": collection, "op": "insert", "document": document})

    def insert_many(self, collection: str, documents: list[dict]) -> dict:
        """Insert several documents in one write."""
        return self.write({"collection": collection, "op": "insert", "documents": documents})

    def update(
        self,
        collection: str,
        filter: dict,
        update: dict,
        *,
        multi: bool = False,
        upsert: bool = False,
        return_document: bool = False,
    ) -> dict:
        """Apply update operators ($set, $inc, $push, ...) to the documents matching `filter`.

        The response has `matched` and `modified`, and `document` (the document after the
        update, or None) when `return_document` is true.
        """
        body = {
            "collection": collection,
            "op": "update",
            "filter": filter,
            "update": update,
            "multi": multi,
            "upsert": upsert,
            "return_document": return_document,
        }
        return self.write(body)

    def delete(self, collection: str, filter: dict, *, multi: bool = False) -> int:
        """Delete the first (or with `multi`, every) document matching `filter`; return how many."""
        answer = self.write({"collection": collection, "op": "delete", "filter": filter, "multi": multi})
        return int(answer.get("deleted", 0))

    def next_sequence_value(self, name: str, collection: str = "counters") -> int:
        """Return the next value of the counter `name`, starting at 1.

        The master applies writes one at a time, so concurrent callers get distinct values.
        A retried call keeps its write id, so it gets its original value back.
        """
        answer = self.update(
            collection,
            {"_id": name},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=True,
        )
        document = answer.get("document")
        if not isinstance(document, dict) or isinstance(document.get("value"), bool) \
                or not isinstance(document.get("value"), int):
            raise DBaaSError(f"counter {name!r}: the DBaaS returned no integer value: {answer!r}")
        return document["value"]

    def clear(self) -> None:
        """Remove every document of every collection, through the write log."""
        # The clear carries a write id, so a retry after a lost response is answered
        # from the log instead of wiping writes made after the first clear.
        answer = self._post("/api/v1/db/clear", {"id": uuid.uuid4().hex}, retry=True)
        self.remember_position(answer.get("position"))

    # Reads.

    def find(
        self,
        collection: str,
        filter: dict | None = None,
        *,
        projection: dict | None = None,
        sort: list[list[Any]] | None = None,
        limit: int = 0,
        skip: int = 0,
    ) -> list[dict]:
        """Return the documents matching `filter` (all when None); `limit` 0 means no limit."""
        body = self._read_body(collection, filter, limit=limit, skip=skip)
        if projection is not None:
            body["projection"] = projection
        if sort is not None:
            body["sort"] = sort
        answer = self._post("/api/v1/db/read", body, retry=True)
        documents = answer.get("documents")
        if not isinstance(documents, list):
            raise DBaaSError(f"db/read on {collection!r} returned no document list: {answer!r}")
        return documents

    read = find

    def find_one(self, collection: str, filter: dict, *, projection: dict | None = None) -> dict | None:
        """Return the first document matching `filter`, or None."""
        documents = self.find(collection, filter, projection=projection, limit=1)
        return documents[0] if documents else None

    def count(self, collection: str, filter: dict | None = None) -> int:
        """Return how many documents match `filter` (all when None)."""
        body = self._read_body(collection, filter)
        body["count"] = True
        answer = self._post("/api/v1/db/read", body, retry=True)
        count = answer.get("count")
        if isinstance(count, bool) or not isinstance(count, int):
            raise DBaaSError(f"db/read count on {collection!r} returned no integer: {answer!r}")
        return count

    def _read_body(self, collection: str, filter: dict | None, limit: int = 0, skip: int = 0) -> dict:
        body: dict[str, Any] = {"collection": collection, "filter": filter or {}, "limit": limit, "skip": skip}
        position = self.last_position
        if position is not None:
            body["after"] = position
        return body

    # Transport.

    def _post(self, path: str, body: dict, retry: bool) -> dict:
        """POST `body`; with `retry`, resend it after a 503, a timeout or a connection error.

        Only idempotent bodies may be retried: reads, and writes that carry a write id.
        Raises DBaaSUnavailable when every attempt failed that way, DBaaSRejected on 4xx,
        and DBaaSError on any other unexpected answer.
        """
        url = self.base_url + path
        attempts = 1 + max(0, self.retries) if retry else 1
        failure = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)])
                logger.warning("retrying %s (attempt %d of %d) after: %s", path, attempt + 1, attempts, failure)
            try:
                response = self._session.post(url, json=body, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                failure = f"{type(error).__name__}: {error}"
                continue
            if response.status_code == 503:
                failure = f"503: {_error_message(response)}"
                continue
            return _decode(path, response)
        raise DBaaSUnavailable(f"{path} failed after {attempts} attempt(s): {failure}", status=503)


def _error_message(response: requests.Response) -> str:
    """Return the `error` or `message` of a JSON error body, else the start of the raw text."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(payload, dict):
        for key in ("error", "message"):
            if isinstance(payload.get(key), str):
                return payload[key][:500]
    return str(payload)[:200]


def _decode(path: str, response: requests.Response) -> dict:
    status = response.status_code
    if 400 <= status < 500:
        raise DBaaSRejected(_error_message(response), status=status)
    if status != 200:
        raise DBaaSError(f"{path} returned {status}: {_error_message(response)}", status=status)
    try:
        payload = response.json()
    except ValueError:
        raise DBaaSError(f"{path} returned invalid JSON: {response.text[:200]!r}", status=status) from None
    if not isinstance(payload, dict):
        raise DBaaSError(f"{path} returned {type(payload).__name__}, expected a JSON object", status=status)
    # db/clear keeps its body {} and sends the log position of the clear in this header.
    header = response.headers.get("X-Log-Position")
    if header is not None and header.isdigit() and "position" not in payload:
        payload["position"] = int(header)
    return payload
