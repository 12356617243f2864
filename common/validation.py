"""Validation of db/read and db/write request bodies, without I/O.

Every check here runs in the orchestrator before anything is published, so a
bad request is rejected with 400 and changes nothing. Workers still reject, with
400, what only the store can detect, such as an invalid regular expression.
"""

import json
import re
from typing import Any

COLLECTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
WRITE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

# Operators that run server-side JavaScript or aggregation code.
CODE_OPERATORS = frozenset({"$where", "$function", "$accumulator"})
UPDATE_OPERATORS = frozenset(
    {"$set", "$unset", "$inc", "$mul", "$min", "$max", "$rename",
     "$setOnInsert", "$push", "$pull", "$addToSet", "$pop"}
)
WRITE_OPS = frozenset({"insert", "update", "delete"})
READ_FIELDS = frozenset({"collection", "filter", "projection", "sort", "limit", "skip", "count", "after"})
WRITE_FIELDS = {
    "insert": frozenset({"collection", "op", "id", "document", "documents"}),
    "update": frozenset({"collection", "op", "id", "filter", "update", "multi", "upsert", "return_document"}),
    "delete": frozenset({"collection", "op", "id", "filter", "multi"}),
}
MAX_DEPTH = 32


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def parse_json(raw: bytes):
    """Parse a request body, rejecting what the store cannot hold, or raise InvalidRequest.

    Rejected beyond invalid JSON: NaN and Infinity, integers outside 64 bits,
    strings that are not valid Unicode (lone surrogates), and nesting deeper
    than MAX_DEPTH. pymongo or FerretDB fail on each of these in ways that
    would otherwise reach a worker.
    """
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidRequest(f"request body nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"request body is not valid JSON: {error}") from None
    _check_values(value, depth=0)
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _check_values(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"request body nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidRequest(f"integer {value} does not fit in 64 bits")
    elif isinstance(value, str):
        _check_text(value)
    elif isinstance(value, list):
        for item in value:
            _check_values(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_values(item, depth + 1)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(f"string {text[:40]!r} is not valid Unicode (a lone surrogate)") from None


class InvalidRequest(ValueError):
    """A request body rejected with HTTP 400. The message states what is wrong."""


def validate_write(body: Any) -> dict:
    """Return a normalized copy of a db/write body, or raise InvalidRequest."""
    _require_object(body, "request body")
    op = body.get("op")
    if not isinstance(op, str) or op not in WRITE_OPS:
        raise InvalidRequest(f"invalid op {op!r}: expected one of insert, update, delete")
    _reject_unknown_fields(body, WRITE_FIELDS[op])
    request = {"op": op, "collection": _collection(body.get("collection"))}
    if "id" in body:
        request["id"] = write_id(body["id"])

    if op == "insert":
        request["documents"] = _insert_documents(body)
    elif op == "update":
        request["filter"] = _filter(body.get("filter", {}))
        request["update"] = _update(body.get("update"))
        request["multi"] = _flag(body, "multi")
        request["upsert"] = _flag(body, "upsert")
        request["return_document"] = _flag(body, "return_document")
    else:
        request["filter"] = _filter(body.get("filter", {}))
        request["multi"] = _flag(body, "multi")
    return request


def validate_read(body: Any) -> dict:
    """Return a normalized copy of a db/read body, or raise InvalidRequest."""
    _require_object(body, "request body")
    _reject_unknown_fields(body, READ_FIELDS)
    request = {
        "collection": _collection(body.get("collection")),
        "filter": _filter(body.get("filter", {})),
        "limit": _non_negative_int(body, "limit"),
        "skip": _non_negative_int(body, "skip"),
        "count": _flag(body, "count"),
    }
    if body.get("projection") is not None:
        request["projection"] = _projection(body["projection"])
    if body.get("sort") is not None:
        request["sort"] = _sort(body["sort"])
    if body.get("after") is not None:
        request["after"] = _non_negative_int(body, "after")
    return request


def write_id(value: Any) -> str:
    if not isinstance(value, str) or not WRITE_ID.match(value):
        raise InvalidRequest(
            f"invalid id {value!r}: expected 1 to 128 letters, digits or the characters _ . : -"
        )
    return value


def _require_object(value: Any, what: str) -> None:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be a JSON object, got {type(value).__name__}")


def _reject_unknown_fields(body: dict, allowed: frozenset) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown field(s) {', '.join(unknown)}: allowed are {', '.join(sorted(allowed))}")


def _collection(value: Any) -> str:
    if not isinstance(value, str) or not COLLECTION_NAME.match(value):
        raise InvalidRequest(
            f"invalid collection name {value!r}: expected a letter followed by up to 63 letters, digits or _"
        )
    return value


def _flag(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false, got {value!r}")
    return value


def _non_negative_int(body: dict, name: str) -> int:
    value = body.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _insert_documents(body: dict) -> list:
    if ("document" in body) == ("documents" in body):
        raise InvalidRequest("insert needs exactly one of document or documents")
    documents = [body["document"]] if "document" in body else body["documents"]
    if not isinstance(documents, list) or not documents:
        raise InvalidRequest("documents must be a non-empty list of objects")
    for document in documents:
        _document(document)
    return documents


def _document(document: Any) -> None:
    _require_object(document, "document")
    if "_id" in document:
        _document_id(document["_id"])
    _check_keys(document, depth=0)


def _document_id(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidRequest(f"invalid _id {value!r}: expected a string or an integer")


def _check_keys(value: Any, depth: int) -> None:
    """Reject field names the store cannot hold: a leading $ or a dot."""
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"document nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$") or "." in key or key == "":
                raise InvalidRequest(f"invalid field name {key!r}: names may not be empty, start with $ or contain .")
            _check_keys(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, list):
                raise InvalidRequest("nested arrays are not supported")
            _check_keys(item, depth + 1)


def _filter(value: Any) -> dict:
    _require_object(value, "filter")
    _reject_code_operators(value, depth=0)
    return value


def _reject_code_operators(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"filter nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if key in CODE_OPERATORS:
                raise InvalidRequest(f"operator {key} is not allowed: it runs code on the server")
            _reject_code_operators(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _reject_code_operators(item, depth + 1)


def _update(value: Any) -> dict:
    _require_object(value, "update")
    if not value:
        raise InvalidRequest("update must contain at least one operator such as $set")
    for operator, fields in value.items():
        if operator not in UPDATE_OPERATORS:
            raise InvalidRequest(
                f"invalid update operator {operator!r}: expected one of {', '.join(sorted(UPDATE_OPERATORS))}"
            )
        _require_object(fields, f"{operator} argument")
        _reject_code_operators(fields, depth=0)
        for name in fields:
            if name.startswith("$") or name == "" or name == "_id":
                raise InvalidRequest(f"invalid field {name!r} in {operator}")
        if operator in ("$set", "$setOnInsert", "$push", "$addToSet"):
            for item in fields.values():
                _check_keys(item, depth=1)
    return value


def _projection(value: Any) -> dict:
    _require_object(value, "projection")
    for name, include in value.items():
        if name.startswith("$") or name == "":
            raise InvalidRequest(f"invalid projection field {name!r}")
        if isinstance(include, bool):
            continue
        if include not in (0, 1):
            raise InvalidRequest(f"projection of {name!r} must be 0, 1, true or false, got {include!r}")
    return value


def _sort(value: Any) -> list:
    if not isinstance(value, list):
        raise InvalidRequest("sort must be a list of [field, 1 or -1] pairs")
    keys = []
    for pair in value:
        valid = (
            isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
            and pair[0] and not pair[0].startswith("$")
            and not isinstance(pair[1], bool) and pair[1] in (1, -1)
        )
        if not valid:
            raise InvalidRequest(f"invalid sort key {pair!r}: expected [field, 1 or -1]")
        keys.append((pair[0], pair[1]))
    return keys
