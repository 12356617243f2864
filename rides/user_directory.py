"""Checks whether a user exists by asking the users service through the gateway."""

import logging

import requests
from requests.adapters import HTTPAdapter

from common.config import settings
from common.service import UpstreamUnavailable

logger = logging.getLogger(__name__)


class UserDirectory:
    """Client of the users service's `GET /api/v1/users`, safe to share between threads.

    Each check sends exactly one request and never retries, because every request counts
    in the users service's `_count`.
    """

    def __init__(self, gateway_url: str | None = None, timeout: float | None = None) -> None:
        self.url = (gateway_url or settings.gateway_url).rstrip("/") + "/api/v1/users"
        # NOTE: reuses the DBaaS timeout setting, because the users service reads from the DBaaS too.
        self.timeout = settings.dbaas_timeout if timeout is None else timeout
        self._session = requests.Session()
        self._session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=32))

    def user_exists(self, username: str) -> bool:
        """Return whether `username` is a user; raise UpstreamUnavailable if the list is unavailable."""
        try:
            response = self._session.get(self.url, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise UpstreamUnavailable(f"users service unreachable at {self.url}: {error}") from None
        if response.status_code == 204:
            return False
        if response.status_code != 200:
            raise UpstreamUnavailable(f"users service returned {response.status_code} for {self.url}")
        try:
            names = response.json()
        except ValueError:
            raise UpstreamUnavailable(f"users service returned invalid JSON for {self.url}") from None
        if not isinstance(names, list):
            raise UpstreamUnavailable(f"users service returned {type(names).__name__}, expected a list")
        return username in names
