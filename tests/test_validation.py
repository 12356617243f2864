"""Request validation of db/read and db/write bodies (pure logic)."""

import pytest

from common.validation import InvalidRequest, parse_json, validate_read, validate_write


@pytest.mark.parametrize(
    "body, message",
    [
        ([], "must be a JSON object"),
        ({"collection": "users", "op": "drop"}, "invalid op"),
        ({"collection": "$cmd", "op": "insert", "document": {}}, "invalid collection name"),
        ({"collection": "_meta", "op": "insert", "document": {}}, "invalid collection name"),
        ({"collection": "a.b", "op": "insert", "document": {}}, "invalid collection name"),
        ({"collection": "users", "op": "insert"}, "exactly one of document or documents"),
        ({"collection": "users", "op": "insert", "documents": []}, "non-empty list"),
        ({"collection": "users", "op": "insert", "document": {"$set": 1}}, "invalid field name"),
        ({"collection": "users", "op": "insert", "document": {"a.b": 1}}, "invalid field name"),
        ({"collection": "users", "op": "insert", "document": {"_id": [1]}}, "invalid _id"),
        ({"collection": "users", "op": "insert", "document": {"a": [[1]]}}, "nested arrays"),
        ({"collection": "users", "op": "update", "filter": {}, "update": {"$eval": {}}}, "invalid update operator"),
        ({"collection": "users", "op": "update", "filter": {}, "update": {}}, "at least one operator"),
        ({"collection": "users", "op": "update", "filter": {}, "update": {"$set": {"_id": 2}}}, "invalid field"),
        ({"collection": "users", "op": "delete", "filter": {"$where": "1"}}, "runs code"),
        ({"collection": "users", "op": "delete", "filter": {"a": {"$function": {}}}}, "runs code"),
        ({"collection": "users", "op": "delete", "filter": {"$and": [{"$accumulator": {}}]}}, "runs code"),
        ({"collection": "users", "op": "delete", "filter": {}, "multi": "yes"}, "true or false"),
        ({"collection": "users", "op": "delete", "filter": {}, "drop": True}, "unknown field"),
        ({"collection": "users", "op": "delete", "filter": {}, "id": "bad id!"}, "invalid id"),
    ],
)
def test_invalid_write_rejected(body, message):
    with pytest.raises(InvalidRequest) as raised:
        validate_write(body)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "body, message",
    [
        ("x", "must be a JSON object"),
        ({"collection": "users", "filter": []}, "filter must be a JSON object"),
        ({"collection": "users", "filter": {"$where": "sleep(1)"}}, "runs code"),
        ({"collection": "users", "limit": -1}, "non-negative integer"),
        ({"collection": "users", "limit": True}, "non-negative integer"),
        ({"collection": "users", "sort": [["a", 2]]}, "invalid sort key"),
        ({"collection": "users", "sort": "a"}, "list of"),
        ({"collection": "users", "projection": {"a": 5}}, "projection"),
        ({"collection": "users", "after": "3"}, "non-negative integer"),
        ({"collection": "users", "query": {}}, "unknown field"),
    ],
)
def test_invalid_read_rejected(body, message):
    with pytest.raises(InvalidRequest) as raised:
        validate_read(body)
    assert message in str(raised.value)


def test_valid_write_normalized():
    request = validate_write({"collection": "rides", "op": "update", "filter": {"rideId": 1},
                              "update": {"$push": {"users": "bob"}}})
    assert request["multi"] is False
    assert request["upsert"] is False
    assert request["return_document"] is False
    assert "id" not in request


def test_insert_single_document_becomes_list():
    request = validate_write({"collection": "users", "op": "insert", "document": {"_id": "a"}, "id": "w-1"})
    assert request["documents"] == [{"_id": "a"}]
    assert request["id"] == "w-1"


def test_valid_read_defaults():
    request = validate_read({"collection": "rides", "sort": [["rideId", -1]]})
    assert request["filter"] == {}
    assert request["sort"] == [("rideId", -1)]
    assert request["count"] is False
    assert "after" not in request


@pytest.mark.parametrize(
    "raw, message",
    [
        (b'{"n": NaN}', "not allowed"),
        (b'{"n": -Infinity}', "not allowed"),
        (b'{"n": 99999999999999999999}', "64 bits"),
        (b'{"n": -9223372036854775809}', "64 bits"),
        (b'{"s": "\\ud800"}', "not valid Unicode"),
        (b'{"\\udc00": 1}', "not valid Unicode"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_parse_json_rejects_values_store_cannot_hold(raw, message):
    with pytest.raises(InvalidRequest) as raised:
        parse_json(raw)
    assert message in str(raised.value)


def test_parse_json_accepts_int64_edges():
    assert parse_json(b'{"a": 9223372036854775807, "b": -9223372036854775808}') == {
        "a": 2**63 - 1, "b": -(2**63)}


def test_unhashable_op_rejected():
    with pytest.raises(InvalidRequest) as raised:
        validate_write({"collection": "t", "op": ["insert"]})
    assert "invalid op" in str(raised.value)


def test_current_date_rejected():
    with pytest.raises(InvalidRequest) as raised:
        validate_write({"collection": "t", "op": "update", "filter": {}, "update": {"$currentDate": {"d": True}}})
    assert "invalid update operator" in str(raised.value)
