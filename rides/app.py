"""HTTP routes of the rides service. Rides live in the DBaaS `rides` collection with
`_id` = rideId; ride ids come from the `rideId` counter in the `counters` collection.
"""

import logging
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, request

from common.dbaas_client import DBaaSClient
from common.service import (
    create_service_app,
    dbaas,
    error_response,
    json_object_body,
    json_response,
    no_content,
    shorten,
)
from rides.user_directory import UserDirectory
from rides.validation import (
    MAX_RIDE_ID,
    join_refusal,
    validate_join,
    validate_new_ride,
    validate_route_query,
)

logger = logging.getLogger(__name__)

COLLECTION = "rides"
RIDE_ID_COUNTER = "rideId"
RIDE_FIELDS = ("rideId", "created_by", "users", "timestamp", "source", "destination")

routes = Blueprint("rides", __name__)


def users() -> UserDirectory:
    return current_app.extensions["user_directory"]


@routes.route("/api/v1/rides", methods=["POST"])
def create_ride() -> Response:
    ride = validate_new_ride(json_object_body())
    if not users().user_exists(ride.created_by):
        return error_response(f"unknown user {shorten(ride.created_by)}", 400)

    ride_id = dbaas().next_sequence_value(RIDE_ID_COUNTER)
    document = {
        "_id": ride_id,
        "rideId": ride_id,
        "created_by": ride.created_by,
        "users": [],
        "timestamp": ride.timestamp,
        "source": ride.source,
        "destination": ride.destination,
        # Seconds since the epoch, so that listing can compare start times in the query.
        "start": int(ride.start.timestamp()),
    }
    dbaas().insert(COLLECTION, document)
    logger.info("created ride %d by %s", ride_id, shorten(ride.created_by))
    return json_response({}, 201)


@routes.route("/api/v1/rides", methods=["GET"])
def list_upcoming_rides() -> Response:
    source, destination = validate_route_query(request.args)
    now = int(datetime.now(UTC).timestamp())
    documents = dbaas().find(
        COLLECTION,
        {"source": source, "destination": destination, "start": {"$gt": now}},
        projection={"rideId": 1, "created_by": 1, "timestamp": 1},
        sort=[["start", 1], ["rideId", 1]],
    )
    if not documents:
        return no_content()
    rides = [
        {"rideId": document["rideId"], "username": document["created_by"], "timestamp": document["timestamp"]}
        for document in documents
    ]
    return json_response(rides)


@routes.route("/api/v1/rides/count", methods=["GET"])
def count_rides() -> Response:
    return json_response([dbaas().count(COLLECTION)])


@routes.route("/api/v1/rides/<int:ride_id>", methods=["GET"])
def get_ride(ride_id: int) -> Response:
    ride = find_ride(ride_id)
    if ride is None:
        return no_content()
    return json_response({field: ride[field] for field in RIDE_FIELDS})


@routes.route("/api/v1/rides/<int:ride_id>", methods=["POST"])
def join_ride(ride_id: int) -> Response:
    username = validate_join(json_object_body())
    ride = find_ride(ride_id)
    if ride is None:
        return no_content()
    refusal = join_refusal(ride, username)
    if refusal:
        return error_response(refusal, 400)
    if not users().user_exists(username):
        return error_response(f"unknown user {shorten(username)}", 400)

    # The filter repeats the checks, so two concurrent joins of one user add them once.
    answer = dbaas().update(
        COLLECTION,
        {"_id": ride_id, "created_by": {"$ne": username}, "users": {"$ne": username}},
        {"$push": {"users": username}},
    )
    if answer.get("matched", 0) == 0:
        ride = find_ride(ride_id)
        if ride is None:
            return no_content()
        reason = join_refusal(ride, username) or f"user {shorten(username)} cannot join ride {ride_id}"
        return error_response(reason, 400)
    logger.info("user %s joined ride %d", shorten(username), ride_id)
    return json_response({})


@routes.route("/api/v1/rides/<int:ride_id>", methods=["DELETE"])
def delete_ride(ride_id: int) -> Response:
    if ride_id > MAX_RIDE_ID or dbaas().delete(COLLECTION, {"_id": ride_id}) == 0:
        return error_response(f"no such ride {ride_id}", 400)
    logger.info("deleted ride %d", ride_id)
    return json_response({})


def find_ride(ride_id: int) -> dict | None:
    if ride_id > MAX_RIDE_ID:
        return None
    return dbaas().find_one(COLLECTION, {"_id": ride_id})


def create_app(client: DBaaSClient | None = None, user_directory: UserDirectory | None = None) -> Flask:
    """Build the rides service app (the gunicorn entry point)."""
    app = create_service_app(__name__, count_prefix="/api/v1/rides", client=client)
    app.extensions["user_directory"] = user_directory or UserDirectory()
    app.register_blueprint(routes)
    return app
