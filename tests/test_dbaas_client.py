"""DBaaSClient retries, errors and read-your-writes positions, against a scripted HTTP stub.

The stub replaces the orchestrator only to produce the failures (503s, dropped
connections) that a healthy cluster does not produce on demand.
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.dbaas_client import DBaaSClient, DBaaSError, DBaaSRejected, DBaaSUnavailable


class ScriptedServer:
    """An HTTP server on 127.0.0.1 that returns queued (status, body) pairs and records requests."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, object]] = []
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server dispatches on this name
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append((self.path, json.loads(self.rfile.read(length))))
                status, body = server.replies.pop(0) if server.replies else (200, {})
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    stub = ScriptedServer()
    yield stub
    stub.close()


def test_write_retries_503_with_same_id(server):
    server.replies = [(503, {"error": "not confirmed"}), (503, {"error": "not confirmed"}),
                      (200, {"id": "x", "position": 7, "inserted": 1})]
    client = DBaaSClient(server.url, timeout=5, retries=3)
    answer = client.insert("users", {"_id": "alice"})
    assert answer["inserted"] == 1
    ids = [body["id"] for _, body in server.requests]
    assert len(ids) == 3
    assert len(set(ids)) == 1
    assert client.last_position == 7


def test_write_gives_up_after_retries(server):
    server.replies = [(503, {"error": "not confirmed"})] * 3
    client = DBaaSClient(server.url, timeout=5, retries=2)
    with pytest.raises(DBaaSUnavailable) as caught:
        client.delete("rides", {"_id": 1})
    assert caught.value.status == 503
    assert len(server.requests) == 3


def test_write_rejection_not_retried(server):
    server.replies = [(400, {"error": "duplicate _id 'alice'"})]
    client = DBaaSClient(server.url, timeout=5, retries=3)
    with pytest.raises(DBaaSRejected) as caught:
        client.insert("users", {"_id": "alice"})
    assert caught.value.status == 400
    assert "duplicate" in caught.value.message
    assert len(server.requests) == 1


def test_connection_error_is_unavailable():
    client = DBaaSClient("http://127.0.0.1:9", timeout=1, retries=1)
    with pytest.raises(DBaaSUnavailable):
        client.count("rides")


def test_read_passes_last_write_position(server):
    server.replies = [(200, {"documents": []}), (200, {"position": 41}), (200, {"position": 12}),
                      (200, {"documents": [{"_id": 1}]})]
    client = DBaaSClient(server.url, timeout=5, retries=0)
    client.find("rides")
    client.update("rides", {"_id": 1}, {"$set": {"a": 1}})
    client.update("rides", {"_id": 2}, {"$set": {"a": 1}})
    assert client.find_one("rides", {"_id": 1}) == {"_id": 1}
    first_read, second_read = server.requests[0][1], server.requests[3][1]
    assert "after" not in first_read
    assert second_read["after"] == 41
    assert second_read["limit"] == 1


def test_read_retries_503(server):
    server.replies = [(503, {"error": "no worker at position"}), (200, {"count": 3})]
    client = DBaaSClient(server.url, timeout=5, retries=2)
    assert client.count("rides") == 3
    assert len(server.requests) == 2


def test_counter_value_returned(server):
    server.replies = [(200, {"position": 3, "matched": 1, "document": {"_id": "rideId", "value": 9}})]
    client = DBaaSClient(server.url, timeout=5, retries=0)
    assert client.next_sequence_value("rideId") == 9
    body = server.requests[0][1]
    assert body["upsert"] is True
    assert body["return_document"] is True
    assert body["update"] == {"$inc": {"value": 1}}


def test_counter_without_document_raises(server):
    server.replies = [(200, {"position": 3, "matched": 0, "document": None})]
    client = DBaaSClient(server.url, timeout=5, retries=0)
    with pytest.raises(DBaaSError):
        client.next_sequence_value("rideId")


def test_clear_retried_with_same_id(server):
    server.replies = [(503, {"error": "not confirmed"}), (200, {})]
    client = DBaaSClient(server.url, timeout=5, retries=3)
    client.clear()
    assert len(server.requests) == 2
    first, second = (body for _, body in server.requests)
    assert first == second
    assert set(first) == {"id"}


def test_invalid_json_response_raises(server):
    server.replies = [(200, b"not json")]
    client = DBaaSClient(server.url, timeout=5, retries=0)
    with pytest.raises(DBaaSError, match="invalid JSON"):
        client.find("rides")
