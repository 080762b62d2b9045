"""/api/v2.0/quotas through the API, with Basic credentials."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from common.testing.api import basic_client
from projects.models import Quota
from projects.services import project_create

pytestmark = pytest.mark.django_db
PW = "pw-Secret-1"
QUOTA_KEYS = {"id", "ref", "hard", "used", "creation_time", "update_time"}


@pytest.fixture
def world():
    model = get_user_model()
    root = model.objects.create_superuser("root", "root@x", PW)
    alice = model.objects.create_user("alice", password=PW)
    alpha = project_create(name="alpha", owner=alice, storage_limit=1000)
    Quota.objects.filter(project=alpha).update(used=250)
    beta = project_create(name="beta", owner=root)  # unlimited
    gamma = project_create(name="gamma", storage_limit=5000)
    Quota.objects.filter(project=gamma).update(used=10)
    return {"root": root, "alice": alice, "alpha": alpha, "beta": beta, "gamma": gamma}


def _quota(project) -> Quota:  # noqa: ANN001
    return Quota.objects.get(project=project)


def _code(response) -> str:  # noqa: ANN001
    return response.json()["errors"][0]["code"]


def test_list_shape_and_default_order(world):
    response = basic_client("root").get("/api/v2.0/quotas")
    assert response.status_code == 200
    assert response["X-Total-Count"] == "3"
    body = response.json()
    assert [q["ref"]["name"] for q in body] == ["gamma", "beta", "alpha"]  # newest first, as Harbor
    alpha = body[2]
    assert set(alpha) == QUOTA_KEYS
    assert alpha["id"] == _quota(world["alpha"]).pk
    assert alpha["ref"] == {"id": world["alpha"].pk, "name": "alpha", "owner_name": "alice"}
    assert alpha["hard"] == {"storage": 1000}
    assert alpha["used"] == {"storage": 250}
    assert body[0]["ref"]["owner_name"] == ""
    assert body[1]["hard"] == {"storage": -1}


def test_list_filters(world):
    root = basic_client("root")
    one = root.get(f"/api/v2.0/quotas?reference=project&reference_id={world['beta'].pk}")
    assert [q["ref"]["name"] for q in one.json()] == ["beta"]
    assert one["X-Total-Count"] == "1"
    assert root.get("/api/v2.0/quotas?reference=project").json().__len__() == 3
    assert root.get("/api/v2.0/quotas?reference=registry").json() == []
    assert root.get("/api/v2.0/quotas?reference_id=abc").json() == []
    assert root.get("/api/v2.0/quotas?reference_id=999999").json() == []


def test_list_sort(world):
    root = basic_client("root")

    def names(sort: str) -> list[str]:
        response = root.get(f"/api/v2.0/quotas?sort={sort}")
        assert response.status_code == 200, response.content
        return [q["ref"]["name"] for q in response.json()]

    # An unlimited (-1) hard limit sorts as the largest, as in Harbor.
    assert names("hard.storage") == ["alpha", "gamma", "beta"]
    assert names("-hard.storage") == ["beta", "gamma", "alpha"]
    assert names("used.storage") == ["beta", "gamma", "alpha"]
    assert names("-used.storage") == ["alpha", "gamma", "beta"]
    assert names("creation_time") == ["alpha", "beta", "gamma"]
    bad = root.get("/api/v2.0/quotas?sort=project__owner__password")
    assert bad.status_code == 400
    assert _code(bad) == "BAD_REQUEST"


def test_list_paging_and_query_budget(world, django_assert_max_num_queries):
    owner = world["alice"]
    for i in range(30):
        project_create(name=f"p{i:02d}", owner=owner, storage_limit=i * 100)
    root = basic_client("root")
    with django_assert_max_num_queries(5):  # one of them folds the pushes' pending deltas into `used`
        response = root.get("/api/v2.0/quotas?page_size=50")
    assert len(response.json()) == 33
    assert all(q["ref"]["owner_name"] for q in response.json() if q["ref"]["name"].startswith("p"))
    page = root.get("/api/v2.0/quotas?page=2&page_size=10&sort=hard.storage")
    assert page["X-Total-Count"] == "33"
    assert [q["hard"]["storage"] for q in page.json()] == [1000, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800]
    assert 'rel="next"' in page["Link"]


@pytest.mark.parametrize(("username", "status", "code"), [("alice", 403, "FORBIDDEN"), (None, 401, "UNAUTHORIZED")])
def test_quotas_are_for_system_admins(world, username, status, code):
    client = basic_client(username)
    quota = _quota(world["alpha"])  # alice administers alpha, still not allowed (Harbor: system access)
    for response in (
        client.get("/api/v2.0/quotas"),
        client.get(f"/api/v2.0/quotas/{quota.pk}"),
        client.put(f"/api/v2.0/quotas/{quota.pk}", {"hard": {"storage": -1}}, format="json"),
    ):
        assert response.status_code == status
        assert _code(response) == code
    assert _quota(world["alpha"]).hard == 1000


def test_get_quota(world):
    root = basic_client("root")
    quota = _quota(world["gamma"])
    body = root.get(f"/api/v2.0/quotas/{quota.pk}").json()
    assert set(body) == QUOTA_KEYS
    assert body["ref"] == {"id": world["gamma"].pk, "name": "gamma", "owner_name": ""}
    assert (body["hard"], body["used"]) == ({"storage": 5000}, {"storage": 10})
    missing = root.get("/api/v2.0/quotas/999999")
    assert missing.status_code == 404
    assert _code(missing) == "NOT_FOUND"
    assert root.get("/api/v2.0/quotas/abc").status_code == 400


def test_update_quota(world):
    root = basic_client("root")
    quota = _quota(world["alpha"])
    before = quota.updated
    body = {"hard": {"storage": 4096}, "used": {"storage": 0}, "ref": {"id": world["beta"].pk}}
    assert root.put(f"/api/v2.0/quotas/{quota.pk}", body, format="json").status_code == 200
    quota.refresh_from_db()
    assert (quota.hard, quota.used, quota.project_id) == (4096, 250, world["alpha"].pk)  # only hard changes
    assert quota.updated > before
    assert root.get(f"/api/v2.0/quotas/{quota.pk}").json()["hard"] == {"storage": 4096}
    assert root.put(f"/api/v2.0/quotas/{quota.pk}", {"hard": {"storage": -1}}, format="json").status_code == 200
    assert basic_client("alice").get("/api/v2.0/projects/alpha/summary").json()["quota"] == {
        "hard": {"storage": -1},
        "used": {"storage": 250},
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"hard": {}},
        {"hard": {"storage": -2}},
        {"hard": {"storage": "lots"}},
        {"hard": {"storage": 10, "count": 5}},
        {"hard": {"count": 5}},
        {"hard": 100},
    ],
)
def test_update_quota_bad_input(world, body):
    quota = _quota(world["alpha"])
    response = basic_client("root").put(f"/api/v2.0/quotas/{quota.pk}", body, format="json")
    assert response.status_code == 400, response.content
    assert _code(response) == "BAD_REQUEST"
    quota.refresh_from_db()
    assert quota.hard == 1000


def test_update_missing_quota(world):
    response = basic_client("root").put("/api/v2.0/quotas/999999", {"hard": {"storage": 1}}, format="json")
    assert response.status_code == 404
