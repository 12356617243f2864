"""The orchestrator's HTTP API (Flask), served by gunicorn as one process with threads.

One process matters: the read counter, the reconciliation loop and the RPC
reply routing must each exist once.
"""

import logging
import time
import uuid

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from common.config import settings
from common.validation import InvalidRequest, parse_json, validate_read, validate_write, write_id
from orchestrator.control import ControlPlane, NoSuchWorker
from orchestrator.rpc import RpcTimeout

logger = logging.getLogger(__name__)

POSITION_HEADER = "X-Log-Position"


def create_app(control: ControlPlane | None = None) -> Flask:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    control = control or ControlPlane.start()
    app.extensions["control"] = control

    @app.errorhandler(InvalidRequest)
    def invalid_request(error):
        return jsonify(error=str(error)), 400

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        return jsonify(error=f"request body larger than {settings.max_body_bytes} bytes"), 400

    @app.errorhandler(HTTPException)
    def http_error(error):
        return jsonify(error=error.description), error.code

    @app.post("/api/v1/db/write")
    def db_write():
        body = validate_write(_json_body())
        body.setdefault("id", uuid.uuid4().hex)
        return _forward(control.write(body), f"write {body['id']}")

    @app.post("/api/v1/db/read")
    def db_read():
        control.autoscaler.count_read(time.monotonic())
        return _forward(control.read(validate_read(_json_body())), "read")

    @app.post("/api/v1/db/clear")
    def db_clear():
        body = _json_body(allow_empty=True) or {}
        if not isinstance(body, dict) or set(body) - {"id"}:
            raise InvalidRequest('db/clear takes an empty body, {} or {"id": <write id>}')
        clear_id = write_id(body["id"]) if "id" in body else uuid.uuid4().hex
        reply = control.write({"op": "clear", "id": clear_id})
        if isinstance(reply, RpcTimeout):
            return _forward(reply, f"write {clear_id} (clear)")
        if reply["status"] != 200:
            return _forward(reply, "clear")
        # The body stays {}, as the API contract requires. The log position,
        # for a following read's `after`, travels in a header.
        response = jsonify({})
        response.headers[POSITION_HEADER] = str(reply["body"]["position"])
        return response

    @app.post("/api/v1/crash/master")
    def crash_master():
        try:
            return jsonify([control.crash_master()])
        except NoSuchWorker as error:
            return jsonify(error=str(error)), 400

    @app.post("/api/v1/crash/slave")
    def crash_slave():
        try:
            return jsonify([control.crash_slave()])
        except NoSuchWorker as error:
            return jsonify(error=str(error)), 400

    @app.get("/api/v1/worker/list")
    def worker_list():
        return jsonify(control.worker_pids())

    @app.get("/api/v1/worker/status")
    def worker_status():
        digest = request.args.get("digest", "false").lower() in ("1", "true", "yes")
        return jsonify(control.status(digest=digest))

    @app.get("/api/v1/health")
    def health():
        health = control.health()
        return jsonify(health), 200 if health["ok"] else 503

    return app


def _json_body(allow_empty: bool = False):
    raw = request.get_data(cache=False)
    if allow_empty and not raw.strip():
        return None
    return parse_json(raw)


def _forward(reply, what: str) -> Response:
    """Turn a worker's reply, or a timeout, into the HTTP response."""
    if isinstance(reply, RpcTimeout):
        message = f"{what} not confirmed within {settings.rpc_timeout} s"
        if what.startswith("write"):
            message += "; retrying with the same id is safe"
        return jsonify(error=message), 503
    return jsonify(reply["body"]), reply["status"]
