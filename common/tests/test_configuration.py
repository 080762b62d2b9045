"""The configuration: typed items and a cache that costs one query per window (common/configuration.py),
validated writes (system/configuration.py)."""

from __future__ import annotations

import base64
import datetime
from types import SimpleNamespace

import pytest
from django.utils import timezone

from common import configuration
from common.configuration import (
    CACHE_SECONDS,
    ITEMS,
    ConfigError,
    config_all,
    config_get,
    token_expiration_seconds,
)
from common.models import Setting
from projects.tests.factories import PASSWORD, SysadminFactory, UserFactory
from registry.auth.token import token_verify
from system import configuration as writes
from system.configuration import config_update

pytestmark = pytest.mark.django_db


class Clock:
    """Stands in for time.monotonic inside common.configuration."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(configuration, "_clock", fake)
    return fake


def test_defaults_without_rows(settings):
    assert config_get("auth_mode") == "db_auth"
    assert config_get("project_creation_restriction") == "everyone"
    assert config_get("self_registration") is False
    assert config_get("read_only") is False
    assert config_get("robot_token_duration") == 30
    assert config_get("robot_name_prefix") == "robot$"
    assert config_get("banner_message") == ""
    assert config_get("token_expiration") == settings.TOKEN_EXPIRATION // 60
    with pytest.raises(KeyError):
        config_get("no_such_key")


def test_update_is_seen_at_once_in_this_process():
    admin = SysadminFactory()
    assert config_get("read_only") is False  # warm the cache
    stored = config_update(changes={"read_only": True, "token_expiration": 5}, user=admin)
    assert stored == {"read_only": True, "token_expiration": 5}
    assert config_get("read_only") is True
    assert config_get("token_expiration") == 5
    assert Setting.objects.get(key="read_only").value is True
    values = config_all()
    assert values["read_only"] == (True, True)
    assert values["robot_name_prefix"] == ("robot$", False)
    assert set(values) == set(ITEMS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"no_such_key": 1}, "unknown or unsupported configuration item 'no_such_key'"),
        ({"read_only": "true"}, "read_only must be a boolean"),
        ({"read_only": 1}, "read_only must be a boolean"),
        ({"token_expiration": True}, "token_expiration must be an integer"),
        ({"token_expiration": "30"}, "token_expiration must be an integer"),
        ({"token_expiration": 1.5}, "token_expiration must be an integer"),
        ({"token_expiration": 0}, "the token_expiration value must be at least 1"),
        ({"robot_token_duration": -3}, "the robot_token_duration value must be at least 1"),
        ({"robot_token_duration": 10_000_000_000}, "over the limit value"),
        ({"project_creation_restriction": "nobody"}, "invalid project_creation_restriction"),
        ({"project_creation_restriction": 1}, "project_creation_restriction must be a string"),
        ({"robot_name_prefix": "bot+"}, "robot_name_prefix cannot be modified"),
        ({"auth_mode": "ldap_auth"}, "auth_mode cannot be modified"),
        ({"banner_message": ["x"]}, "banner_message must be a string"),
    ],
)
def test_bad_changes_are_refused_and_nothing_is_stored(changes, message):
    with pytest.raises(ConfigError, match=message):
        config_update(changes={"read_only": True, **changes}, user=None)
    assert not Setting.objects.exists()
    assert config_get("read_only") is False


def test_null_items_are_left_unchanged():
    config_update(changes={"read_only": True}, user=None)
    assert config_update(changes={"read_only": None, "self_registration": True}, user=None) == {
        "self_registration": True
    }
    assert config_get("read_only") is True


def test_changes_must_be_an_object():
    with pytest.raises(ConfigError, match="JSON object"):
        config_update(changes=["read_only"], user=None)  # type: ignore[arg-type]


def test_cached_reads_cost_no_query_within_the_window(clock, django_assert_num_queries):
    with django_assert_num_queries(2):  # the stamp, then the rows
        assert config_get("read_only") is False
    with django_assert_num_queries(0):
        for _ in range(100):
            config_get("read_only")
            config_get("project_creation_restriction")
    clock.now += CACHE_SECONDS
    with django_assert_num_queries(1):  # unchanged stamp: the rows are not read again
        assert config_get("read_only") is False
    with django_assert_num_queries(0):
        config_get("read_only")


def test_another_process_write_is_seen_after_the_window(clock):
    assert config_get("read_only") is False
    # Another web node writes: this process's snapshot is not told.
    Setting.objects.create(key="read_only", value=True, updated=timezone.now())
    clock.now += CACHE_SECONDS - 0.01
    assert config_get("read_only") is False  # the documented bound: stale for at most CACHE_SECONDS
    clock.now += 0.01
    assert config_get("read_only") is True


def test_a_removed_row_is_noticed(clock):
    config_update(changes={"read_only": True}, user=None)
    assert config_get("read_only") is True
    Setting.objects.filter(key="read_only").delete()  # MAX(updated) may not move; the count does
    clock.now += CACHE_SECONDS
    assert config_get("read_only") is False


def test_stamp_moves_forward_even_when_the_clock_goes_back(monkeypatch, clock):
    config_update(changes={"read_only": True}, user=None)
    first = Setting.objects.get(key="read_only").updated
    assert config_get("read_only") is True
    past = first - datetime.timedelta(hours=1)
    monkeypatch.setattr(writes, "timezone", SimpleNamespace(now=lambda: past))  # a node whose clock is behind
    # ...writes through another process: simulate by bypassing this process's cache reset.
    monkeypatch.setattr(writes, "config_cache_clear", lambda: None)
    config_update(changes={"read_only": False}, user=None)
    assert Setting.objects.get(key="read_only").updated > first
    clock.now += CACHE_SECONDS
    assert config_get("read_only") is False


def test_token_expiration_defaults_to_the_deployment_setting(settings):
    settings.TOKEN_EXPIRATION = 90  # seconds, not a whole number of minutes
    assert token_expiration_seconds() == 90
    config_update(changes={"token_expiration": 7}, user=None)
    assert token_expiration_seconds() == 7 * 60


def test_token_service_issues_tokens_for_the_configured_lifetime(client):
    UserFactory(username="tok")
    config_update(changes={"token_expiration": 3}, user=None)
    response = client.get(
        "/service/token",
        {"service": "harbor-registry", "scope": "repository:nowhere/x:pull"},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"tok:{PASSWORD}".encode()).decode(),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expires_in"] == 180
    verified = token_verify(body["token"])
    issued = datetime.datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00")).timestamp()
    assert verified.expires == int(issued) + 180
