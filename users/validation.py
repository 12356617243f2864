"""Validation of users service request bodies, without I/O."""

import re
from dataclasses import dataclass

from common.service import InvalidRequest, require_string

# A password arrives as a SHA-1 digest: 40 hexadecimal digits, either case.
PASSWORD = re.compile(r"[0-9a-fA-F]{40}")


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str


def validate_new_user(body: dict) -> NewUser:
    """Return the user a `PUT /api/v1/users` body describes, or raise InvalidRequest."""
    username = require_string(body, "username")
    password = require_string(body, "password")
    if not PASSWORD.fullmatch(password):
        raise InvalidRequest("invalid password: expected a SHA-1 digest, exactly 40 hexadecimal digits")
    return NewUser(username=username, password=password)
