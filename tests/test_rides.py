"""The rides service over HTTP, through the gateway, against the local DBaaS."""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.app_fixtures import RideShare, wait_until_cleared

TIMEOUT = 30
FUTURE = "01-01-2099:00-00-10"
PAST = "01-01-2001:00-00-10"


def add_user(base: str, username: str) -> None:
    body = {"username": username, "password": hashlib.sha1(username.encode()).hexdigest()}
    response = requests.put(f"{base}/api/v1/users", json=body, timeout=TIMEOUT)
    assert response.status_code == 201, response.text


def create_ride(base: str, created_by: str = "alice", timestamp: str = FUTURE,
                source: object = 1, destination: object = 2) -> requests.Response:
    body = {"created_by": created_by, "timestamp": timestamp, "source": source, "destination": destination}
    return requests.post(f"{base}/api/v1/rides", json=body, timeout=TIMEOUT)


def list_rides(base: str, source: object, destination: object) -> requests.Response:
    params = {"source": source, "destination": destination}
    return requests.get(f"{base}/api/v1/rides", params=params, timeout=TIMEOUT)


def ride_ids(base: str, source: object, destination: object) -> list[int]:
    response = list_rides(base, source, destination)
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.text
    return [ride["rideId"] for ride in response.json()]


def ride_count(base: str) -> int:
    response = requests.get(f"{base}/api/v1/rides/count", timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()[0]


def request_count(base: str) -> int:
    response = requests.get(f"{base}/api/v1/_count", timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()[0]


def future_timestamp(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%d-%m-%Y:%S-%M-%H")


@pytest.fixture
def stack(rideshare_clean) -> RideShare:
    """A cleared stack with users alice and bob."""
    add_user(rideshare_clean.gateway_url, "alice")
    add_user(rideshare_clean.gateway_url, "bob")
    return rideshare_clean


@pytest.fixture
def ride_id(stack) -> int:
    """The id of one upcoming ride by alice from area 1 to 2."""
    assert create_ride(stack.gateway_url).status_code == 201
    (only,) = ride_ids(stack.gateway_url, 1, 2)
    return only


# Creating rides.

def test_create_ride_then_listed(stack):
    gateway = stack.gateway_url
    response = create_ride(gateway, source=1, destination=2)
    assert response.status_code == 201
    assert response.json() == {}
    listing = list_rides(gateway, 1, 2)
    assert listing.status_code == 200
    (ride,) = listing.json()
    assert set(ride) == {"rideId", "username", "timestamp"}
    assert ride["username"] == "alice"
    assert ride["timestamp"] == FUTURE
    assert isinstance(ride["rideId"], int) and ride["rideId"] > 0


@pytest.mark.parametrize(
    "source, destination",
    [(1, 198), ("1", "198"), (198, "1"), ("007", 8)],
)
def test_create_ride_accepts_ints_and_digit_strings(stack, source, destination):
    assert create_ride(stack.gateway_url, source=source, destination=destination).status_code == 201
    assert len(ride_ids(stack.gateway_url, int(source), int(destination))) == 1


@pytest.mark.parametrize(
    "source, destination",
    [(0, 2), (1, 199), ("0", "2"), ("1", "199"), (-1, 2), (1.5, 2), (True, 2), ("one", 2), (None, 2), ([1], 2)],
)
def test_create_ride_rejects_unknown_area(stack, source, destination):
    response = create_ride(stack.gateway_url, source=source, destination=destination)
    assert response.status_code == 400
    assert "area" in response.json()["error"]
    assert ride_count(stack.gateway_url) == 0


def test_create_ride_same_source_and_destination_is_400(stack):
    response = create_ride(stack.gateway_url, source=5, destination="5")
    assert response.status_code == 400
    assert "same area" in response.json()["error"]


def test_create_ride_unknown_user_is_400(stack):
    response = create_ride(stack.gateway_url, created_by="carol")
    assert response.status_code == 400
    assert "unknown user" in response.json()["error"]
    response = create_ride(stack.gateway_url, created_by="ALICE")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "timestamp",
    ["2099-01-01 10:00:00", "1-1-2099:00-00-10", "31-02-2099:00-00-10", "01-01-2099:60-00-10",
     "01-01-2099:00-00-24", "", 20990101],
)
def test_create_ride_malformed_timestamp_is_400(stack, timestamp):
    response = create_ride(stack.gateway_url, timestamp=timestamp)
    assert response.status_code == 400
    assert "timestamp" in response.json()["error"]


@pytest.mark.parametrize("missing", ["created_by", "timestamp", "source", "destination"])
def test_create_ride_missing_field_is_400(stack, missing):
    body = {"created_by": "alice", "timestamp": FUTURE, "source": 1, "destination": 2}
    del body[missing]
    response = requests.post(f"{stack.gateway_url}/api/v1/rides", json=body, timeout=TIMEOUT)
    assert response.status_code == 400
    assert missing in response.json()["error"]


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b"42", b"null"])
def test_create_ride_malformed_body_is_400(stack, data):
    response = requests.post(f"{stack.gateway_url}/api/v1/rides", data=data, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["error"]


def test_past_ride_created_but_not_listed(stack):
    gateway = stack.gateway_url
    assert create_ride(gateway, timestamp=PAST).status_code == 201
    assert ride_count(gateway) == 1
    assert list_rides(gateway, 1, 2).status_code == 204


def test_listing_shows_upcoming_rides_in_time_order(stack):
    gateway = stack.gateway_url
    later = future_timestamp(timedelta(days=2))
    sooner = future_timestamp(timedelta(hours=1))
    assert create_ride(gateway, timestamp=later).status_code == 201
    assert create_ride(gateway, created_by="bob", timestamp=sooner).status_code == 201
    assert create_ride(gateway, timestamp=future_timestamp(timedelta(minutes=-1))).status_code == 201
    assert create_ride(gateway, source=2, destination=1).status_code == 201
    rides = list_rides(gateway, "1", "2").json()
    assert [(ride["username"], ride["timestamp"]) for ride in rides] == [("bob", sooner), ("alice", later)]


def test_listing_empty_is_204(stack):
    response = list_rides(stack.gateway_url, 3, 4)
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize(
    "query",
    ["", "?source=1", "?destination=2", "?source=0&destination=2",
     "?source=1&destination=199", "?source=x&destination=2"],
)
def test_listing_missing_or_unknown_area_is_400(stack, query):
    response = requests.get(f"{stack.gateway_url}/api/v1/rides{query}", timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["error"]


# One ride.

def test_ride_details(stack, ride_id):
    response = requests.get(f"{stack.gateway_url}/api/v1/rides/{ride_id}", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {
        "rideId": ride_id, "created_by": "alice", "users": [], "timestamp": FUTURE, "source": 1, "destination": 2,
    }


@pytest.mark.parametrize("missing_id", [0, 999999, 2**70])
def test_ride_details_unknown_is_204(stack, missing_id):
    response = requests.get(f"{stack.gateway_url}/api/v1/rides/{missing_id}", timeout=TIMEOUT)
    assert response.status_code == 204
    assert response.content == b""


def test_join_ride_adds_user(stack, ride_id):
    url = f"{stack.gateway_url}/api/v1/rides/{ride_id}"
    response = requests.post(url, json={"username": "bob"}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {}
    assert requests.get(url, timeout=TIMEOUT).json()["users"] == ["bob"]


def test_join_ride_twice_is_400(stack, ride_id):
    url = f"{stack.gateway_url}/api/v1/rides/{ride_id}"
    assert requests.post(url, json={"username": "bob"}, timeout=TIMEOUT).status_code == 200
    response = requests.post(url, json={"username": "bob"}, timeout=TIMEOUT)
    assert response.status_code == 400
    assert "already" in response.json()["error"]
    assert requests.get(url, timeout=TIMEOUT).json()["users"] == ["bob"]


def test_join_own_ride_is_400(stack, ride_id):
    response = requests.post(f"{stack.gateway_url}/api/v1/rides/{ride_id}", json={"username": "alice"}, timeout=TIMEOUT)
    assert response.status_code == 400
    assert "created" in response.json()["error"]


def test_join_ride_unknown_user_is_400(stack, ride_id):
    response = requests.post(f"{stack.gateway_url}/api/v1/rides/{ride_id}", json={"username": "carol"}, timeout=TIMEOUT)
    assert response.status_code == 400
    assert "unknown user" in response.json()["error"]


@pytest.mark.parametrize("body", [{}, {"username": ""}, {"username": 3}])
def test_join_ride_invalid_body_is_400(stack, ride_id, body):
    response = requests.post(f"{stack.gateway_url}/api/v1/rides/{ride_id}", json=body, timeout=TIMEOUT)
    assert response.status_code == 400


def test_join_unknown_ride_is_204(stack):
    response = requests.post(f"{stack.gateway_url}/api/v1/rides/12345", json={"username": "bob"}, timeout=TIMEOUT)
    assert response.status_code == 204
    assert response.content == b""


def test_concurrent_joins_of_one_user_add_once(stack, ride_id):
    url = f"{stack.gateway_url}/api/v1/rides/{ride_id}"
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: requests.post(url, json={"username": "bob"}, timeout=TIMEOUT).status_code,
                                 range(8)))
    assert statuses.count(200) == 1
    assert statuses.count(400) == 7
    assert requests.get(url, timeout=TIMEOUT).json()["users"] == ["bob"]


def test_delete_ride_then_gone(stack, ride_id):
    url = f"{stack.gateway_url}/api/v1/rides/{ride_id}"
    response = requests.delete(url, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {}
    assert requests.get(url, timeout=TIMEOUT).status_code == 204
    response = requests.delete(url, timeout=TIMEOUT)
    assert response.status_code == 400
    assert "no such ride" in response.json()["error"]
    assert ride_count(stack.gateway_url) == 0


def test_deleted_ride_id_not_reused(stack, ride_id):
    assert requests.delete(f"{stack.gateway_url}/api/v1/rides/{ride_id}", timeout=TIMEOUT).status_code == 200
    assert create_ride(stack.gateway_url).status_code == 201
    (new_id,) = ride_ids(stack.gateway_url, 1, 2)
    assert new_id > ride_id


# Counting.

def test_ride_count_starts_at_zero(stack):
    response = requests.get(f"{stack.gateway_url}/api/v1/rides/count", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == [0]


def test_ride_count_route_never_a_ride_id(stack, ride_id):
    gateway = stack.gateway_url
    assert ride_count(gateway) == 1
    assert requests.post(f"{gateway}/api/v1/rides/count", json={"username": "bob"}, timeout=TIMEOUT).status_code == 405
    assert requests.delete(f"{gateway}/api/v1/rides/count", timeout=TIMEOUT).status_code == 405
    assert ride_count(gateway) == 1


def test_concurrent_creations_get_distinct_ids(stack):
    gateway = stack.gateway_url
    timestamps = [future_timestamp(timedelta(hours=1, seconds=i)) for i in range(40)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(lambda t: create_ride(gateway, timestamp=t).status_code, timestamps))
    assert statuses == [201] * 40
    ids = ride_ids(gateway, 1, 2)
    assert len(ids) == 40
    assert len(set(ids)) == 40
    assert ride_count(gateway) == 40


@pytest.mark.parametrize(
    "method, path",
    [
        ("PUT", "/api/v1/rides"),
        ("DELETE", "/api/v1/rides"),
        ("PUT", "/api/v1/rides/1"),
        ("PATCH", "/api/v1/rides/1"),
        ("POST", "/api/v1/rides/count"),
        ("OPTIONS", "/api/v1/rides"),
        ("PUT", "/api/v1/_count"),
    ],
)
def test_unlisted_method_is_405(stack, method, path):
    response = requests.request(method, f"{stack.rides_url}{path}", timeout=TIMEOUT)
    assert response.status_code == 405
    assert "not allowed" in response.json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/rides/abc", "/api/v1/rides/-1", "/api/v1/rides/1/extra", "/api/v1/nothing"])
def test_unknown_route_is_404(stack, path):
    response = requests.get(f"{stack.rides_url}{path}", timeout=TIMEOUT)
    assert response.status_code == 404
    assert "no route" in response.json()["error"]


def test_clear_through_rides_removes_rides(stack, ride_id):
    response = requests.post(f"{stack.rides_url}/api/v1/db/clear", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {}
    wait_until_cleared(stack)
    assert ride_count(stack.rides_url) == 0
    assert requests.get(f"{stack.gateway_url}/api/v1/users", timeout=TIMEOUT).status_code == 204


def test_request_counts_after_known_mix(stack):
    gateway, users, rides = stack.gateway_url, stack.users_url, stack.rides_url
    for base in (users, rides):
        assert requests.delete(f"{base}/api/v1/_count", timeout=TIMEOUT).json() == {}
        assert request_count(base) == 0

    # Users service: 4 requests of its own.
    add_user(gateway, "carol")                                                      # users 1
    requests.get(f"{gateway}/api/v1/users", timeout=TIMEOUT)                        # users 2
    requests.post(f"{gateway}/api/v1/users", timeout=TIMEOUT)                       # users 3 (405)
    requests.delete(f"{gateway}/api/v1/users/nobody", timeout=TIMEOUT)              # users 4 (400)

    # Rides service: 10 requests; 3 of them ask the users service whether a user exists.
    assert create_ride(gateway, created_by="alice").status_code == 201              # rides 1, users 5
    assert create_ride(gateway, created_by="carol", source="3", destination="4").status_code == 201  # rides 2, users 6
    assert create_ride(gateway, source=0).status_code == 400                        # rides 3 (no user check)
    (first,) = ride_ids(gateway, 1, 2)                                              # rides 4
    requests.post(f"{gateway}/api/v1/rides/{first}", json={"username": "bob"}, timeout=TIMEOUT)  # rides 5, users 7
    requests.get(f"{gateway}/api/v1/rides/{first}", timeout=TIMEOUT)                # rides 6
    requests.get(f"{gateway}/api/v1/rides/count", timeout=TIMEOUT)                  # rides 7
    requests.post(f"{gateway}/api/v1/rides/count", timeout=TIMEOUT)                 # rides 8 (405)
    requests.put(f"{gateway}/api/v1/rides", timeout=TIMEOUT)                        # rides 9 (405)
    requests.delete(f"{gateway}/api/v1/rides/{first}", timeout=TIMEOUT)             # rides 10

    # Not counted: health, db/clear and _count itself (a 405 on _count included).
    for base in (users, rides):
        requests.get(f"{base}/api/v1/health", timeout=TIMEOUT)
        requests.put(f"{base}/api/v1/_count", timeout=TIMEOUT)
        assert requests.post(f"{base}/api/v1/db/clear", timeout=TIMEOUT).status_code == 200

    assert request_count(users) == 7
    assert request_count(rides) == 10
