"""The Flask plumbing that the users and rides services share.

`create_service_app` builds an app with JSON error bodies, the request counter and the
routes every service has (`db/clear`, `_count`, `health`). Each service adds its own routes.
"""

import logging
import reprlib
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from common.config import settings
from common.counter import CountingMiddleware, RequestCounter
from common.dbaas_client import DBaaSClient, DBaaSError, DBaaSRejected, DBaaSUnavailable
from common.validation import InvalidRequest, parse_json

logger = logging.getLogger(__name__)

_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = 80
_SHORT_REPR.maxother = 80


class UpstreamUnavailable(Exception):
    """A service this one depends on (the users service, through the gateway) did not respond usefully."""


def json_response(payload: Any, status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


def no_content() -> Response:
    """Return a 204 response, which by HTTP has an empty body."""
    return Response(status=204)


def shorten(value: object) -> str:
    """Return the repr of `value` cut to about 80 characters, for logs and messages,
    because request fields have no length limit."""
    return _SHORT_REPR.repr(value)


def error_response(message: str, status: int) -> Response:
    """Return a JSON error body `{"error": message}` and log the rejection."""
    logger.info("%s %s rejected with %d: %s", request.method, request.path, status, message)
    return json_response({"error": message}, status)


def json_object_body() -> dict:
    """Return the request body parsed as a JSON object, or raise InvalidRequest.

    The Content-Type header is not required, because clients of the original API often
    omit it. The body must still be valid JSON, so NaN and Infinity are rejected.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise InvalidRequest("missing request body: expected a JSON object")
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object, got {_json_type(body)}")
    return body


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def require_string(body: dict, name: str) -> str:
    """Return the non-empty string field `name` of `body`, or raise InvalidRequest."""
    if name not in body:
        raise InvalidRequest(f"missing field {name!r}")
    value = body[name]
    if not isinstance(value, str):
        raise InvalidRequest(f"field {name!r} must be a string, got {_json_type(value)}")
    if value == "":
        raise InvalidRequest(f"field {name!r} must not be empty")
    return value


def dbaas() -> DBaaSClient:
    """Return the DBaaS client of the running app."""
    return current_app.extensions["dbaas"]


def create_service_app(import_name: str, count_prefix: str, client: DBaaSClient | None = None) -> Flask:
    """Build a service app whose `_count` counts requests on `count_prefix` and below."""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # A method that a route does not list gets 405, OPTIONS included.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.json.sort_keys = False

    counter = RequestCounter()
    app.extensions["dbaas"] = client or DBaaSClient()
    app.extensions["request_counter"] = counter
    app.wsgi_app = CountingMiddleware(app.wsgi_app, counter, count_prefix)

    _register_error_handlers(app)
    _register_common_routes(app, counter)
    return app


def _register_common_routes(app: Flask, counter: RequestCounter) -> None:
    @app.route("/api/v1/db/clear", methods=["POST"])
    def clear_database() -> Response:
        dbaas().clear()
        logger.info("cleared every collection through the DBaaS")
        return json_response({})

    @app.route("/api/v1/_count", methods=["GET"])
    def get_request_count() -> Response:
        return json_response([counter.value])

    @app.route("/api/v1/_count", methods=["DELETE"])
    def reset_request_count() -> Response:
        counter.reset()
        return json_response({})

    @app.route("/api/v1/health", methods=["GET"])
    def health() -> Response:
        return json_response({"status": "ok"})


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(InvalidRequest)
    def invalid_request(error: InvalidRequest) -> Response:
        return error_response(str(error), 400)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Keep the headers werkzeug set (Allow on a 405) and replace the HTML body.
        response = error.get_response()
        logger.info("%s %s rejected with %d: %s", request.method, request.path, error.code, error.name)
        response.set_data(current_app.json.dumps({"error": _http_error_message(error)}) + "\n")
        response.content_type = "application/json"
        return response

    @app.errorhandler(DBaaSUnavailable)
    def dbaas_unavailable(error: DBaaSUnavailable) -> Response:
        logger.warning("DBaaS unavailable on %s %s: %s", request.method, request.path, error.message)
        return json_response({"error": f"database unavailable, retry later: {error.message}"}, 503)

    @app.errorhandler(UpstreamUnavailable)
    def upstream_unavailable(error: UpstreamUnavailable) -> Response:
        logger.warning("upstream unavailable on %s %s: %s", request.method, request.path, error)
        return json_response({"error": f"{error}; retry later"}, 503)

    @app.errorhandler(DBaaSError)
    def dbaas_failed(error: DBaaSError) -> Response:
        # The routes handle the rejections a caller can cause (a duplicate user, say). Any
        # other rejection of a request this service built is a bug here or in the DBaaS.
        kind = "rejected" if isinstance(error, DBaaSRejected) else "failed"
        logger.error("DBaaS %s on %s %s: %s", kind, request.method, request.path, error.message)
        return json_response({"error": f"database request {kind}: {error.message}"}, 502)

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json_response({"error": f"internal error: {type(error).__name__}"}, 500)


def _http_error_message(error: HTTPException) -> str:
    if error.code == 404:
        return f"no route {request.path}"
    if error.code == 405:
        allowed = ", ".join(sorted(getattr(error, "valid_methods", None) or []))
        return f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
    if error.code == 413:
        return f"request body larger than {settings.max_body_bytes} bytes"
    return error.description or error.name
