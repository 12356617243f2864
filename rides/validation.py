"""Validation of rides service requests, without I/O."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from common.areas import parse_area
from common.service import InvalidRequest, require_string, shorten

TIMESTAMP_FORMAT = "DD-MM-YYYY:SS-MM-HH"
_TIMESTAMP = re.compile(r"([0-9]{2})-([0-9]{2})-([0-9]{4}):([0-9]{2})-([0-9]{2})-([0-9]{2})")

# Ride ids are stored as 64-bit integers; a larger id in a URL names no ride.
MAX_RIDE_ID = 2**63 - 1


@dataclass(frozen=True)
class NewRide:
    created_by: str
    timestamp: str
    start: datetime
    source: int
    destination: int


def parse_timestamp(value: str) -> datetime:
    """Return the UTC time of a `DD-MM-YYYY:SS-MM-HH` timestamp, or raise InvalidRequest.

    Every field has its full width (`01`, not `1`), and the date and time must exist.
    """
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise InvalidRequest(f"invalid timestamp {shorten(value)}: expected {TIMESTAMP_FORMAT}")
    day, month, year, second, minute, hour = (int(group) for group in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as error:
        raise InvalidRequest(f"invalid timestamp {shorten(value)}: {error}") from None


def area_field(value: object, name: str) -> int:
    """Return the area number in field or parameter `name`, or raise InvalidRequest."""
    try:
        return parse_area(value)
    except ValueError as error:
        raise InvalidRequest(f"invalid {name}: {error}") from None


def validate_new_ride(body: dict) -> NewRide:
    """Return the ride a `POST /api/v1/rides` body describes, or raise InvalidRequest.

    Only the body is checked here; whether `created_by` exists is the caller's job.
    """
    created_by = require_string(body, "created_by")
    timestamp = require_string(body, "timestamp")
    for name in ("source", "destination"):
        if name not in body:
            raise InvalidRequest(f"missing field {name!r}")
    start = parse_timestamp(timestamp)
    source = area_field(body["source"], "source")
    destination = area_field(body["destination"], "destination")
    if source == destination:
        raise InvalidRequest(f"source and destination are the same area ({source})")
    return NewRide(created_by, timestamp, start, source, destination)


def validate_route_query(args: dict) -> tuple[int, int]:
    """Return (source, destination) from the query of `GET /api/v1/rides`, or raise InvalidRequest."""
    areas = []
    for name in ("source", "destination"):
        value = args.get(name)
        if value is None or value == "":
            raise InvalidRequest(f"missing query parameter {name!r}")
        areas.append(area_field(value, name))
    return areas[0], areas[1]


def validate_join(body: dict) -> str:
    """Return the username of a `POST /api/v1/rides/{rideId}` body, or raise InvalidRequest."""
    return require_string(body, "username")


def join_refusal(ride: dict, username: str) -> str | None:
    """Return why `username` may not join `ride`, or None if they may."""
    if ride["created_by"] == username:
        return f"user {shorten(username)} created ride {ride['rideId']} and cannot join it"
    if username in ride.get("users", []):
        return f"user {shorten(username)} is already in ride {ride['rideId']}"
    return None
