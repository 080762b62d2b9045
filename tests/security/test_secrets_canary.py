"""Canary secrets: passwords and robot secrets with distinctive values must never come back out.

Users and robots are created, changed and used with canary values through the API, the token
service and /v2/; then every GET of the API is swept (sysadmin, the canary user, the canary robot),
every admin changelist and change page is rendered, and every log record (DEBUG everywhere, SQL
with its parameters included) is searched. The only places a secret may appear are the two Harbor
designed for it: CreateRobot's and RefreshSec's bodies for a generated secret, sent `no-store`.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import NoReverseMatch, reverse

from projects.models import Robot
from tests.security.policy import SYSTEM_POLICY
from tests.security.requests import call_for
from tests.security.routes import api_operations, harbor_operations
from tests.security.world import PRINCIPAL, Who, World

pytestmark = pytest.mark.django_db
API = "/api/v2.0"
USER_PW_1 = "CanaryPw1-a7Q9zX"
USER_PW_2 = "CanaryPw2-k3M8wY"
USER_PW_3 = "CanaryPw3-p5T2vN"
ROBOT_SECRET_1 = "CanarySec1-b4R7tV"
ROBOT_SECRET_2 = "CanarySec2-h6J1qW"
WEAK_SECRET = "canaryweaksecretzz"  # refused by the policy; must not be echoed either
WRONG_PW = "CanaryWrong9-zzQ"
HOOK_HEADER = "Bearer CanaryHook4-w8Z"  # a webhook target's auth header: stored encrypted, shown masked


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        out = []
        for record in self.records:
            try:
                text = formatter.format(record)
            except Exception:  # noqa: BLE001 - a record that doesn't format is still searched raw
                text = f"{record.msg!r} {record.args!r}"
            out.append(f"{text} {vars(record)!r}")
        return out


@pytest.fixture
def logs():
    """Every logger at DEBUG into one list, and SQL logged with its parameters."""
    handler = ListHandler()
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    logging.getLogger().addHandler(handler)
    debug_cursor = connection.force_debug_cursor
    connection.force_debug_cursor = True
    try:
        yield handler
    finally:
        connection.force_debug_cursor = debug_cursor
        logging.getLogger().removeHandler(handler)
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled


@dataclass
class Canaries:
    secrets: set[str] = field(default_factory=set)
    markers: set[str] = field(default_factory=set)  # secrets, and Basic tokens carrying them
    seen: list[tuple[str, object]] = field(default_factory=list)  # (what, response): must hold no canary
    disclosed: list[tuple[str, object]] = field(default_factory=list)  # the designed one-time disclosures
    user_id: int = 0
    robot_ids: list[int] = field(default_factory=list)

    def secret(self, value: str, *usernames: str) -> str:
        self.secrets.add(value)
        self.markers.add(value)
        for name in usernames:
            self.markers.add(base64.b64encode(f"{name}:{value}".encode()).decode())
        return value

    def found_in(self, text: str) -> list[str]:
        return sorted(marker for marker in self.markers if marker in text)


def _text(response) -> str:  # noqa: ANN001
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    return f"{body.decode(errors='replace')} {sorted(response.items())!r}"


def _robot_body(name: str, **extra) -> dict:
    access = [{"resource": "repository", "action": "pull"}, {"resource": "repository", "action": "list"}]
    return {"name": name, "level": "project", "duration": -1, **extra,
            "permissions": [{"kind": "project", "namespace": "priv", "access": access}]}  # fmt: skip


def _user_client(name: str, password: str):  # noqa: ANN202
    return Who(name, "user", name, password).client()


def _robot_client(name: str, secret: str):  # noqa: ANN202
    return Who(name, "robot", name, secret).client()


@pytest.fixture
def canaries(world: World, logs, client) -> Canaries:  # noqa: ANN001
    """Create, change and use canary credentials through every door (API, token service, /v2/)."""
    found = Canaries()
    root, padmin = PRINCIPAL["sysadmin"].client(), PRINCIPAL["projectAdmin"].client()
    seen = found.seen.append
    users = get_user_model().objects

    # Users: created with a password, a duplicate refused, one's own change, a sysadmin's reset, bad logins.
    found.secret(USER_PW_1, "canary")
    found.secret(USER_PW_2, "canary")
    found.secret(USER_PW_3, "canary2")
    found.secret(WRONG_PW, "canary")
    body = {"username": "canary", "email": "canary@example.test", "password": USER_PW_1, "realname": "Canary"}
    seen(("createUser", root.post(f"{API}/users", body, format="json")))
    seen(("createUser again (409)", root.post(f"{API}/users", body, format="json")))
    body2 = {**body, "username": "canary2", "email": "canary2@example.test"}
    seen(("createUser 2", root.post(f"{API}/users", body2, format="json")))
    found.user_id, second = users.get(username="canary").pk, users.get(username="canary2").pk
    change = {"old_password": USER_PW_1, "new_password": USER_PW_2}
    own = _user_client("canary", USER_PW_1).put(f"{API}/users/{found.user_id}/password", change, format="json")
    seen(("own password", own))
    reset = {"new_password": USER_PW_3}
    seen(("reset password", root.put(f"{API}/users/{second}/password", reset, format="json")))
    seen(("old password", _user_client("canary", USER_PW_1).get(f"{API}/users/current")))
    seen(("wrong password", _user_client("canary", WRONG_PW).get(f"{API}/users/current")))

    # Robots: a chosen secret, a generated one (shown once), refreshes of both kinds, weak ones refused.
    for secret in (ROBOT_SECRET_1, ROBOT_SECRET_2):
        found.secret(secret, "robot$priv+canary")
    found.secret(WEAK_SECRET)
    seen(("weak secret", padmin.post(f"{API}/robots", _robot_body("weak", secret=WEAK_SECRET), format="json")))
    seen(("chosen secret", padmin.post(f"{API}/robots", _robot_body("canary", secret=ROBOT_SECRET_1), format="json")))
    generated = padmin.post(f"{API}/robots", _robot_body("generated"), format="json")
    found.disclosed.append(("generated secret", generated))
    found.secret(generated.json()["secret"], "robot$priv+generated")
    found.robot_ids = [Robot.objects.get(name="canary").pk, generated.json()["id"]]
    chosen, random = (f"{API}/robots/{pk}" for pk in found.robot_ids)
    seen(("chosen refresh", padmin.patch(chosen, {"secret": ROBOT_SECRET_2}, format="json")))
    refreshed = padmin.patch(random, {}, format="json")
    found.disclosed.append(("refreshed secret", refreshed))
    found.secret(refreshed.json()["secret"], "robot$priv+generated")
    seen(("weak refresh", padmin.patch(chosen, {"secret": WEAK_SECRET}, format="json")))

    # Use them: the API, the token service (GET with Basic, POST password grant) and /v2/.
    seen(("user current", _user_client("canary", USER_PW_2).get(f"{API}/users/current")))
    seen(("robot lists", _robot_client("robot$priv+canary", ROBOT_SECRET_2).get(f"{API}/projects/priv/repositories")))
    seen(("robot old secret", _robot_client("robot$priv+canary", ROBOT_SECRET_1).get(f"{API}/projects")))
    scope = "repository:priv/app:pull"
    for who, secret in (("canary", USER_PW_2), ("robot$priv+canary", ROBOT_SECRET_2), ("canary", WRONG_PW)):
        auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{who}:{secret}".encode()).decode()}
        seen((f"token GET {who}", client.get("/service/token", {"service": "harbor-registry", "scope": scope}, **auth)))
        grant = {"grant_type": "password", "username": who, "password": secret, "scope": scope}
        seen((f"token POST {who}", client.post("/service/token", grant)))
        for path in ("/v2/", "/v2/_catalog", "/v2/priv/app/tags/list"):
            seen((f"{path} {who}", client.get(path, **auth)))

    # Webhooks: a target's auth header never comes back; the signing secret is shown once, on create.
    found.secret(HOOK_HEADER)
    target = {"address": "https://hooks.example.test/canary", "auth_header": HOOK_HEADER}
    hook_body = {"name": "canary-hook", "event_types": ["PUSH_ARTIFACT"], "targets": [target]}
    hook = padmin.post(f"{API}/projects/priv/webhook/policies", hook_body, format="json")
    found.disclosed.append(("webhook signing secret", hook))
    found.secret(hook.json()["signing_secret"])
    hook_url = f"{API}/projects/priv/webhook/policies/{hook.json()['id']}"
    seen(("webhook policy", padmin.get(hook_url)))
    seen(("webhook update", padmin.put(hook_url, {**padmin.get(hook_url).json(), "description": "x"}, format="json")))
    return found


def _assert_clean(found: Canaries, what: str, text: str) -> None:
    leaked = found.found_in(text)
    assert not leaked, f"{what} carries {leaked}: {text[:400]}"


def _assert_logs_clean(found: Canaries, logs: ListHandler) -> None:
    texts = logs.texts()
    # The capture does see SQL with parameters (else a clean result would prove nothing).
    assert any("INSERT INTO" in t and "args=" in t for t in texts), "SQL is not being logged"
    for text in texts:
        _assert_clean(found, "a log record", text)


def test_secrets_leave_only_in_their_designed_responses(canaries: Canaries, logs):
    for what, response in canaries.seen:
        assert response.status_code < 500, what
        _assert_clean(canaries, what, _text(response))
    for what, response in canaries.disclosed:
        assert response.status_code in (200, 201), what
        assert response["Cache-Control"] == "no-store", what
        assert canaries.found_in(_text(response)), f"{what}: the detector finds nothing where a secret is"
    statuses = {what: response.status_code for what, response in canaries.seen}
    assert statuses["wrong password"] == statuses["old password"] == statuses["robot old secret"] == 401
    assert statuses["robot lists"] == statuses["user current"] == 200
    assert statuses["weak secret"] == statuses["weak refresh"] == 400
    _assert_logs_clean(canaries, logs)


def _get_urls(world: World, who: Who) -> list[str]:
    urls = []
    for op in harbor_operations():
        if op.method != "GET":
            continue
        names = SYSTEM_POLICY.get(op.operation_id) or {"private": None, "public": None}
        urls += [call_for(op, variant, world, who).url for variant in names]
    urls += [op.template for op in api_operations() if op.operation_id is None]  # openapi.json, swagger-ui
    return urls


def test_no_get_endpoint_shows_a_canary(world: World, canaries: Canaries, logs):
    sysadmin = PRINCIPAL["sysadmin"]
    extra = [
        f"{API}/users?username=canary",
        f"{API}/users/{canaries.user_id}",
        f"{API}/users/search?username=canary",
        f"{API}/robots?q=Level=project,ProjectID={world.projects['private'].id}",
        *(f"{API}/robots/{pk}" for pk in canaries.robot_ids),
    ]
    callers = [
        (sysadmin.client(), [*_get_urls(world, sysadmin), *extra]),
        (Who("c", "user", "canary", USER_PW_2).client(), [f"{API}/users/current", f"{API}/users/{canaries.user_id}"]),
        (Who("r", "robot", "robot$priv+canary", ROBOT_SECRET_2).client(), [f"{API}/robots/{canaries.robot_ids[0]}"]),
    ]
    swept = 0
    for client, urls in callers:
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, url
            _assert_clean(canaries, f"GET {url}", _text(response))
            swept += 1
    assert swept > len([op for op in harbor_operations() if op.method == "GET"])
    _assert_logs_clean(canaries, logs)


def _admin_urls(found: Canaries) -> list[str]:
    """The admin index, every changelist (plain and searched), add page and change page (50 rows a model)."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_changelist") + "?q=canary"]
        urls += [
            reverse(f"{prefix}_change", args=[pk])
            for pk in model.objects.order_by("pk").values_list("pk", flat=True)[:50]
        ]
        with contextlib.suppress(NoReverseMatch):
            urls.append(reverse(f"{prefix}_add"))
    urls.append(reverse("admin:auth_user_password_change", args=[found.user_id]))
    return urls


def test_admin_pages_show_no_canary(world: World, canaries: Canaries, admin_client, logs):
    registered = {m._meta.label for m in admin.site._registry}
    assert "auth.User" in registered
    urls = _admin_urls(canaries)
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code in (200, 302, 403), f"{url}: {response.status_code}"
        _assert_clean(canaries, f"admin {url}", _text(response))
    if "projects.Robot" in registered:
        for pk in canaries.robot_ids:
            assert f"/admin/projects/robot/{pk}/change/" in urls
    _assert_logs_clean(canaries, logs)


@pytest.mark.e2e
def test_server_logs_and_access_log_hold_no_canary():
    """A real gunicorn (access log on, DEBUG logging with SQL): create, refresh and use canaries, then grep."""
    import httpx

    from common.testing.server import RegistryServer

    server = RegistryServer.create(extra_env={"HARBOR_DEBUG": "true", "HARBOR_LOG_LEVEL": "DEBUG"})
    server.env["HARBOR_ACCESS_LOG"] = str(server.var_dir / "access.log")
    server.env["DJANGO_SETTINGS_MODULE"] = "tests.security.server_settings"
    found = Canaries()
    try:
        server.start()
        admin_api = httpx.Client(base_url=f"{server.url}{API}", auth=("admin", server.admin_password), timeout=30)
        found.secret(USER_PW_1, "canary")
        found.secret(USER_PW_2, "canary")
        found.secret(ROBOT_SECRET_1, "robot$canaryp+bot")
        found.secret(ROBOT_SECRET_2, "robot$canaryp+bot")
        found.secret(WRONG_PW, "canary")
        user = {"username": "canary", "email": "canary@example.test", "password": USER_PW_1, "realname": "Canary"}
        assert admin_api.post("/users", json=user).status_code == 201
        assert admin_api.post("/projects", json={"project_name": "canaryp"}).status_code == 201
        robot = _robot_body("bot", secret=ROBOT_SECRET_1)
        robot["permissions"][0]["namespace"] = "canaryp"
        created = admin_api.post("/robots", json=robot)
        assert created.status_code == 201, created.text
        robot_id = created.json()["id"]
        refreshed = admin_api.patch(f"/robots/{robot_id}", json={})
        found.secret(refreshed.json()["secret"], "robot$canaryp+bot")
        assert admin_api.patch(f"/robots/{robot_id}", json={"secret": ROBOT_SECRET_2}).status_code == 200
        me = httpx.Client(base_url=server.url, auth=("canary", USER_PW_1), timeout=30)
        user_id = me.get(f"{API}/users/current").json()["user_id"]
        change = {"old_password": USER_PW_1, "new_password": USER_PW_2}
        assert me.put(f"{API}/users/{user_id}/password", json=change).status_code == 200
        scope = {"service": "harbor-registry", "scope": "repository:canaryp/app:pull,push"}
        for name, secret, status in (
            ("canary", USER_PW_2, 200),
            ("robot$canaryp+bot", ROBOT_SECRET_2, 200),
            ("canary", WRONG_PW, 401),
            ("robot$canaryp+bot", ROBOT_SECRET_1, 401),
        ):
            assert httpx.get(f"{server.url}/service/token", params=scope, auth=(name, secret)).status_code == status
            grant = {"grant_type": "password", "username": name, "password": secret, **scope}
            assert httpx.post(f"{server.url}/service/token", data=grant).status_code == status
            assert httpx.get(f"{server.url}/v2/_catalog", auth=(name, secret)).status_code in (200, 401)
            assert httpx.get(f"{server.url}{API}/projects", auth=(name, secret)).status_code == status
    finally:
        server.stop()
        logs = {path.name: path.read_text(errors="replace") for path in server.var_dir.glob("*.log")}
        server.destroy()
    assert "/service/token" in logs.get("access.log", ""), "the access log was not written"
    assert "SELECT" in logs["gunicorn.log"], "DEBUG SQL was not logged"
    assert "args=" in logs["gunicorn.log"], "SQL parameters were not logged"
    for name, text in logs.items():
        leaked = found.found_in(text)
        assert not leaked, f"{name} carries {leaked}"


SECRET_PROBES = [
    {"q": "password=~zzq9"},
    {"q": "secret_hash=~zzq9"},
    {"q": "owner__password=~zzq9"},
    {"q": "user__password=~zzq9"},
    {"q": "harbor_profile__user__password=~zzq9"},
    {"sort": "password"},
    {"sort": "-secret_hash"},
]


def _stable(response) -> object:  # noqa: ANN001
    """The body without what changes by itself between two calls (systeminfo's clock)."""
    if not response.get("Content-Type", "").startswith("application/json"):
        return response.content
    body = response.json()
    return {k: v for k, v in body.items() if k != "current_time"} if isinstance(body, dict) else body


def _with(url: str, probe: dict) -> str:
    path, _, query = url.partition("?")
    params = dict(parse_qsl(query))
    for key, value in probe.items():
        params[key] = f"{params[key]},{value}" if key in params else value
    return f"{path}?{urlencode(params)}"


def test_no_list_filters_or_sorts_on_a_secret(world: World):
    """A `q` or `sort` key reaching a password or secret hash is refused (400) or has no effect at all."""
    sysadmin = PRINCIPAL["sysadmin"]
    client = sysadmin.client()
    checked = 0
    for op in harbor_operations():
        # search's q is free text, not the query language; health takes no parameter and waits on worker pings;
        # volumes takes none either, and its free space changes by itself while other processes write to the disk.
        if op.method != "GET" or op.operation_id in ("search", "getHealth", "getVolumes"):
            continue
        for variant in SYSTEM_POLICY.get(op.operation_id) or ("private",):
            url = call_for(op, variant, world, sysadmin).url
            baseline = client.get(url)
            for probe in SECRET_PROBES:
                response = client.get(_with(url, probe))
                if response.status_code != 400:
                    assert (response.status_code, _stable(response)) == (baseline.status_code, _stable(baseline)), (
                        f"{_with(url, probe)} changed the answer: {response.content[:200]!r}"
                    )
                checked += 1
    assert checked > len(SECRET_PROBES) * 40
