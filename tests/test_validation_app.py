"""Validators of the users and rides services, tested without servers."""

from datetime import UTC, datetime

import pytest

from common.areas import AREAS, load_areas, parse_area
from common.counter import CountingMiddleware, RequestCounter
from common.service import InvalidRequest
from rides.validation import (
    join_refusal,
    parse_timestamp,
    validate_join,
    validate_new_ride,
    validate_route_query,
)
from users.validation import validate_new_user

SHA1_OF_ABC = "a9993e364706816aba3e25717850c26c9cd0d89d"


def ride_body(**overrides: object) -> dict:
    body = {"created_by": "alice", "timestamp": "01-01-2030:00-00-10", "source": 1, "destination": 2}
    body.update(overrides)
    return body


# Areas.

def test_area_file_has_198_numbered_areas():
    assert len(AREAS) == 198
    assert sorted(AREAS) == list(range(1, 199))
    assert AREAS[1] == "Kempegowda Ward"


@pytest.mark.parametrize("value, expected", [(1, 1), (198, 198), ("1", 1), ("198", 198), ("007", 7)])
def test_area_accepts_ints_and_digit_strings(value, expected):
    assert parse_area(value) == expected


@pytest.mark.parametrize(
    "value",
    [0, 199, -1, "0", "199", "-1", "+1", " 1", "1 ", "", "x", "1.0", "\u0661",
     True, False, 1.5, 1.0, None, [1], {"a": 1}],
)
def test_area_rejects_non_areas(value):
    with pytest.raises(ValueError):
        parse_area(value)


def test_area_file_with_duplicate_number_rejected(tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text("Area No,Area Name\n1,One\n1,Again\n")
    with pytest.raises(ValueError, match="twice"):
        load_areas(path)


# Users.

def test_new_user_accepts_sha1_either_case():
    assert validate_new_user({"username": "alice", "password": SHA1_OF_ABC}).password == SHA1_OF_ABC
    assert validate_new_user({"username": "Alice", "password": SHA1_OF_ABC.upper()}).username == "Alice"


@pytest.mark.parametrize(
    "body",
    [
        {"password": SHA1_OF_ABC},
        {"username": "alice"},
        {"username": "", "password": SHA1_OF_ABC},
        {"username": 5, "password": SHA1_OF_ABC},
        {"username": None, "password": SHA1_OF_ABC},
        {"username": "alice", "password": SHA1_OF_ABC[:-1]},
        {"username": "alice", "password": SHA1_OF_ABC + "0"},
        {"username": "alice", "password": "g" * 40},
        {"username": "alice", "password": SHA1_OF_ABC[:-1] + "\n"},
        {"username": "alice", "password": int("1" * 40)},
    ],
)
def test_new_user_rejects_invalid_body(body):
    with pytest.raises(InvalidRequest):
        validate_new_user(body)


# Rides: timestamps.

def test_timestamp_fields_in_day_month_year_second_minute_hour_order():
    assert parse_timestamp("05-11-2030:07-08-21") == datetime(2030, 11, 5, 21, 8, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "5-11-2030:07-08-21",     # short day
        "05-11-30:07-08-21",      # short year
        "05-11-2030 07-08-21",    # wrong separator
        "05/11/2030:07-08-21",
        "31-02-2030:00-00-00",    # no such day
        "29-02-2031:00-00-00",    # not a leap year
        "01-13-2030:00-00-00",
        "01-01-2030:60-00-00",    # second 60
        "01-01-2030:00-60-00",
        "01-01-2030:00-00-24",
        "01-01-0000:00-00-00",
        "01-01-2030:00-00-00 ",
        "",
    ],
)
def test_timestamp_rejects_malformed(value):
    with pytest.raises(InvalidRequest):
        parse_timestamp(value)


def test_timestamp_accepts_leap_day():
    assert parse_timestamp("29-02-2028:59-59-23").day == 29


# Rides: new ride bodies.

def test_new_ride_normalizes_digit_strings():
    ride = validate_new_ride(ride_body(source="12", destination=198))
    assert ride.source == 12
    assert ride.destination == 198
    assert ride.start == datetime(2030, 1, 1, 10, 0, 0, tzinfo=UTC)


def test_new_ride_accepts_past_time():
    assert validate_new_ride(ride_body(timestamp="01-01-2001:00-00-00")).start.year == 2001


@pytest.mark.parametrize("missing", ["created_by", "timestamp", "source", "destination"])
def test_new_ride_rejects_missing_field(missing):
    body = ride_body()
    del body[missing]
    with pytest.raises(InvalidRequest, match=missing):
        validate_new_ride(body)


@pytest.mark.parametrize(
    "overrides",
    [
        {"source": 0}, {"destination": 199}, {"source": True}, {"source": 1.5}, {"source": -3},
        {"destination": "two"}, {"source": None}, {"source": 2, "destination": "2"},
        {"timestamp": "2030-01-01 10:00:00"}, {"timestamp": 20300101}, {"created_by": ""}, {"created_by": 7},
    ],
)
def test_new_ride_rejects_invalid_field(overrides):
    with pytest.raises(InvalidRequest):
        validate_new_ride(ride_body(**overrides))


def test_new_ride_same_source_and_destination_message():
    with pytest.raises(InvalidRequest, match="same area"):
        validate_new_ride(ride_body(source="5", destination=5))


# Rides: listing query, joins.

def test_route_query_parses_both_areas():
    assert validate_route_query({"source": "1", "destination": "198"}) == (1, 198)


@pytest.mark.parametrize(
    "args",
    [{}, {"source": "1"}, {"destination": "2"}, {"source": "", "destination": "2"},
     {"source": "0", "destination": "2"}, {"source": "1", "destination": "199"}, {"source": "a", "destination": "2"}],
)
def test_route_query_rejects_missing_or_unknown_area(args):
    with pytest.raises(InvalidRequest):
        validate_route_query(args)


def test_join_body_needs_username():
    assert validate_join({"username": "bob"}) == "bob"
    for body in ({}, {"username": ""}, {"username": ["bob"]}):
        with pytest.raises(InvalidRequest):
            validate_join(body)


def test_join_refusal_reasons():
    ride = {"rideId": 3, "created_by": "alice", "users": ["bob"]}
    assert "created" in join_refusal(ride, "alice")
    assert "already" in join_refusal(ride, "bob")
    assert join_refusal(ride, "carol") is None
    assert join_refusal(ride, "Bob") is None


# Request counter.

def test_counting_middleware_counts_prefix_and_below_only():
    counter = RequestCounter()
    app = CountingMiddleware(lambda environ, start_response: [b""], counter, "/api/v1/rides")
    paths = ["/api/v1/rides", "/api/v1/rides/count", "/api/v1/rides/7", "/api/v1/_count",
             "/api/v1/db/clear", "/api/v1/health", "/api/v1/ridesX", "/"]
    for path in paths:
        app({"PATH_INFO": path}, None)
    assert counter.value == 3
    counter.reset()
    assert counter.value == 0
