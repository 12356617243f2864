"""HTTP routes of the users service. Users live in the DBaaS `users` collection, one
document per user with `_id` = username, so the DBaaS's unique `_id` keeps names unique.
"""

import logging

from flask import Blueprint, Flask, Response

from common.dbaas_client import DBaaSClient, DBaaSRejected
from common.service import (
    create_service_app,
    dbaas,
    error_response,
    json_object_body,
    json_response,
    no_content,
    shorten,
)
from users.validation import validate_new_user

logger = logging.getLogger(__name__)

COLLECTION = "users"

routes = Blueprint("users", __name__)


@routes.route("/api/v1/users", methods=["PUT"])
def add_user() -> Response:
    user = validate_new_user(json_object_body())
    document = {"_id": user.username, "username": user.username, "password": user.password}
    try:
        dbaas().insert(COLLECTION, document)
    except DBaaSRejected as error:
        # The usual cause is a duplicate _id. Check before reporting it, because the DBaaS
        # rejects other things too (a document over its size limit, for example).
        if dbaas().find_one(COLLECTION, {"_id": user.username}, projection={"_id": 1}) is not None:
            return error_response(f"user {shorten(user.username)} already exists", 400)
        return error_response(f"user {shorten(user.username)} not stored: {error.message}", 400)
    logger.info("added user %s", shorten(user.username))
    return json_response({}, 201)


@routes.route("/api/v1/users", methods=["GET"])
def list_users() -> Response:
    documents = dbaas().find(COLLECTION, {}, projection={"_id": 1}, sort=[["_id", 1]])
    if not documents:
        return no_content()
    return json_response([document["_id"] for document in documents])


@routes.route("/api/v1/users/<path:username>", methods=["DELETE"])
def remove_user(username: str) -> Response:
    if dbaas().delete(COLLECTION, {"_id": username}) == 0:
        return error_response(f"no such user {shorten(username)}", 400)
    logger.info("removed user %s", shorten(username))
    return json_response({})


def create_app(client: DBaaSClient | None = None) -> Flask:
    """Build the users service app (the gunicorn entry point)."""
    app = create_service_app(__name__, count_prefix="/api/v1/users", client=client)
    app.register_blueprint(routes)
    return app
