"""The users service over HTTP, through the gateway, against the local DBaaS."""

import hashlib
from urllib.parse import quote

import pytest
import requests

from tests.app_fixtures import wait_until_cleared

TIMEOUT = 30


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def add_user(base: str, username: str, password: str | None = None) -> requests.Response:
    body = {"username": username, "password": password or sha1(username)}
    return requests.put(f"{base}/api/v1/users", json=body, timeout=TIMEOUT)


def list_users(base: str) -> requests.Response:
    return requests.get(f"{base}/api/v1/users", timeout=TIMEOUT)


def request_count(base: str) -> int:
    response = requests.get(f"{base}/api/v1/_count", timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()[0]


def test_add_user_then_listed(rideshare_clean):
    gateway = rideshare_clean.gateway_url
    response = add_user(gateway, "alice")
    assert response.status_code == 201
    assert response.json() == {}
    listing = list_users(gateway)
    assert listing.status_code == 200
    assert listing.json() == ["alice"]


def test_list_users_empty_is_204(rideshare_clean):
    response = list_users(rideshare_clean.gateway_url)
    assert response.status_code == 204
    assert response.content == b""


def test_add_user_twice_is_400(rideshare_clean):
    gateway = rideshare_clean.gateway_url
    assert add_user(gateway, "alice").status_code == 201
    response = add_user(gateway, "alice", sha1("other"))
    assert response.status_code == 400
    assert "already exists" in response.json()["error"]
    assert list_users(gateway).json() == ["alice"]


def test_usernames_case_sensitive(rideshare_clean):
    gateway = rideshare_clean.gateway_url
    assert add_user(gateway, "alice").status_code == 201
    assert add_user(gateway, "Alice").status_code == 201
    assert sorted(list_users(gateway).json()) == ["Alice", "alice"]


def test_password_either_case_accepted(rideshare_clean):
    gateway = rideshare_clean.gateway_url
    assert add_user(gateway, "lower", sha1("x").lower()).status_code == 201
    assert add_user(gateway, "upper", sha1("x").upper()).status_code == 201


@pytest.mark.parametrize(
    "password",
    [sha1("x")[:39], sha1("x") + "a", "z" * 40, "", 12345],
)
def test_invalid_password_is_400(rideshare_clean, password):
    response = requests.put(
        f"{rideshare_clean.gateway_url}/api/v1/users",
        json={"username": "alice", "password": password},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert "password" in response.json()["error"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{not json",
        b"[]",
        b'"alice"',
        b"null",
        b'{"username": "alice"}',
        b'{"password": "a9993e364706816aba3e25717850c26c9cd0d89d"}',
        b'{"username": 7, "password": "a9993e364706816aba3e25717850c26c9cd0d89d"}',
    ],
)
def test_malformed_body_is_400(rideshare_clean, data):
    response = requests.put(
        f"{rideshare_clean.gateway_url}/api/v1/users",
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert response.json()["error"]
    assert list_users(rideshare_clean.gateway_url).status_code == 204


def test_remove_user_then_gone(rideshare_clean):
    gateway = rideshare_clean.gateway_url
    add_user(gateway, "alice")
    add_user(gateway, "bob")
    response = requests.delete(f"{gateway}/api/v1/users/alice", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {}
    assert list_users(gateway).json() == ["bob"]


def test_remove_unknown_user_is_400(rideshare_clean):
    response = requests.delete(f"{rideshare_clean.gateway_url}/api/v1/users/nobody", timeout=TIMEOUT)
    assert response.status_code == 400
    assert "no such user" in response.json()["error"]


def test_unusual_usernames_round_trip(rideshare_clean):
    gateway = rideshare_clean.gateway_url
    names = ["with space", "a/b", "ünïcödé", "dot.and$dollar", "?x=1#y", "y" * 1000]
    for name in names:
        assert add_user(gateway, name).status_code == 201, name[:40]
    assert sorted(list_users(gateway).json()) == sorted(names)
    for name in names:
        response = requests.delete(f"{gateway}/api/v1/users/{quote(name, safe='')}", timeout=TIMEOUT)
        assert response.status_code == 200, name[:40]
    assert list_users(gateway).status_code == 204


def test_very_long_username_accepted(rideshare_clean):
    # The body has no field length limit; such a name is too long for a URL, so no delete.
    gateway = rideshare_clean.gateway_url
    name = "x" * 100_000
    assert add_user(gateway, name).status_code == 201
    assert list_users(gateway).json() == [name]
    response = add_user(gateway, name)
    assert response.status_code == 400
    assert len(response.json()["error"]) < 300


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/v1/users"),
        ("DELETE", "/api/v1/users"),
        ("PATCH", "/api/v1/users"),
        ("OPTIONS", "/api/v1/users"),
        ("GET", "/api/v1/users/alice"),
        ("PUT", "/api/v1/users/alice"),
        ("POST", "/api/v1/_count"),
        ("GET", "/api/v1/db/clear"),
    ],
)
def test_unlisted_method_is_405(rideshare_clean, method, path):
    response = requests.request(method, f"{rideshare_clean.users_url}{path}", timeout=TIMEOUT)
    assert response.status_code == 405
    assert method in response.json()["error"]


def test_unknown_route_is_404(rideshare_clean):
    response = requests.get(f"{rideshare_clean.users_url}/api/v1/nothing", timeout=TIMEOUT)
    assert response.status_code == 404
    assert "no route" in response.json()["error"]


def test_clear_removes_users(rideshare_clean):
    users = rideshare_clean.users_url
    add_user(users, "alice")
    response = requests.post(f"{users}/api/v1/db/clear", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {}
    wait_until_cleared(rideshare_clean)
    assert list_users(users).status_code == 204


def test_count_counts_users_routes_only(rideshare_clean):
    users = rideshare_clean.users_url
    assert request_count(users) == 0
    add_user(users, "alice")                                              # 1
    add_user(users, "alice")                                              # 2 (400)
    list_users(users)                                                     # 3
    requests.post(f"{users}/api/v1/users", timeout=TIMEOUT)               # 4 (405)
    requests.delete(f"{users}/api/v1/users/nobody", timeout=TIMEOUT)      # 5 (400)
    requests.get(f"{users}/api/v1/users/alice", timeout=TIMEOUT)          # 6 (405)
    requests.get(f"{users}/api/v1/health", timeout=TIMEOUT)               # not counted
    requests.post(f"{users}/api/v1/_count", timeout=TIMEOUT)              # not counted
    requests.get(f"{users}/api/v1/nothing", timeout=TIMEOUT)              # not counted
    assert request_count(users) == 6
    assert request_count(users) == 6
    assert requests.delete(f"{users}/api/v1/_count", timeout=TIMEOUT).json() == {}
    assert request_count(users) == 0


def test_health_route_uncounted(rideshare_clean):
    users = rideshare_clean.users_url
    response = requests.get(f"{users}/api/v1/health", timeout=TIMEOUT)
    assert response.status_code == 200
    assert request_count(users) == 0
