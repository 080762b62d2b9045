"""ListImmuRules, CreateImmuRule, UpdateImmuRule, DeleteImmuRule through real Basic auth."""

from __future__ import annotations

import pytest

from common.testing.api import basic_client
from policies.models import ImmutabilityRule
from policies.services import MAX_RULES_PER_PROJECT, immutability_rule_create
from projects.services import project_create

pytestmark = pytest.mark.django_db
RULES = "/api/v2.0/projects/lib/immutabletagrules"


def body(tag: str = "v*", repo: str = "**", *, tag_decoration: str = "matches", repo_decoration: str = "repoMatches"):
    return {
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": repo_decoration, "pattern": repo}]},
        "tag_selectors": [{"kind": "doublestar", "decoration": tag_decoration, "pattern": tag}],
    }


def make(project, tag: str = "v*", repo: str = "**", **kwargs) -> ImmutabilityRule:  # noqa: ANN001
    return immutability_rule_create(project=project, **body(tag, repo), **kwargs)


def _error(response, status: int, code: str) -> None:  # noqa: ANN001
    assert response.status_code == status, response.content
    assert response.json()["errors"][0]["code"] == code


def test_create_then_list(lib):
    admin = basic_client("padmin")
    response = admin.post(RULES, {**body("release-*"), "priority": 3, "id": 999, "action": "x"}, format="json")
    assert response.status_code == 201, response.content
    rule = ImmutabilityRule.objects.get()
    assert response["Location"] == f"{RULES}/{rule.pk}"
    assert (rule.project, rule.priority, rule.action, rule.template) == (lib, 3, "immutable", "immutable_template")
    listed = admin.get(RULES).json()
    assert listed == [
        {
            "id": rule.pk,
            "priority": 3,
            "disabled": False,
            "action": "immutable",
            "template": "immutable_template",
            "params": {},
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        }
    ]
    assert basic_client("padmin").get(f"/api/v2.0/projects/{lib.pk}/immutabletagrules").json() == listed


def test_list_pages_filters_sorts_within_a_query_budget(lib, django_assert_max_num_queries):
    other = project_create(name="other")
    make(other, "elsewhere")
    for i in range(12):
        make(lib, f"t{i}-*", priority=12 - i, disabled=i % 2 == 0)
    guest = basic_client("maintainer")  # only admins and maintainers list rules (Harbor's role matrix)
    guest.get(RULES)  # warm the credentials cache
    with django_assert_max_num_queries(8):
        response = guest.get(f"{RULES}?page=1&page_size=5&sort=priority")
    assert response.status_code == 200, response.content
    assert response["X-Total-Count"] == "12"
    assert [r["priority"] for r in response.json()] == [1, 2, 3, 4, 5]
    assert "Link" in response
    assert len(guest.get(f"{RULES}?q=disabled%3Dtrue&page_size=50").json()) == 6
    _error(guest.get(f"{RULES}?q=project_id%3D1"), 400, "BAD_REQUEST")
    _error(guest.get(f"{RULES}?sort=project"), 400, "BAD_REQUEST")


def test_update_changes_selectors_and_toggles(lib):
    rule = make(lib, "v*")
    admin = basic_client("maintainer")
    response = admin.put(f"{RULES}/{rule.pk}", {**body("stable-*"), "disabled": True, "priority": 5}, format="json")
    assert response.status_code == 200, response.content
    rule.refresh_from_db()
    assert (rule.disabled, rule.priority, rule.tag_selectors[0]["pattern"]) == (True, 5, "stable-*")
    assert admin.put(f"{RULES}/{rule.pk}", {"disabled": False}, format="json").status_code == 200
    rule.refresh_from_db()
    assert (rule.disabled, rule.tag_selectors[0]["pattern"]) == (False, "stable-*")  # selectors kept


def test_delete(lib):
    rule = make(lib)
    assert basic_client("padmin").delete(f"{RULES}/{rule.pk}").status_code == 200
    assert not ImmutabilityRule.objects.exists()
    _error(basic_client("padmin").delete(f"{RULES}/{rule.pk}"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"tag_selectors": body()["tag_selectors"]},
        {"scope_selectors": body()["scope_selectors"]},
        body(tag=""),
        body(tag="{v1"),
        body(tag_decoration="repoMatches"),
        body(repo_decoration="matches"),
        {**body(), "scope_selectors": {"namespace": body()["scope_selectors"]["repository"]}},
        {**body(), "tag_selectors": [{"kind": "regexp", "decoration": "matches", "pattern": ".*"}]},
        {**body(), "priority": "high"},
        {**body(), "disabled": "maybe"},
    ],
)
def test_bad_input_is_400(lib, bad):
    _error(basic_client("padmin").post(RULES, bad, format="json"), 400, "BAD_REQUEST")
    assert not ImmutabilityRule.objects.exists()


def test_bad_update_is_400_and_keeps_the_rule(lib):
    rule = make(lib, "v*")
    _error(basic_client("padmin").put(f"{RULES}/{rule.pk}", body(tag="[x"), format="json"), 400, "BAD_REQUEST")
    _error(basic_client("padmin").put(f"{RULES}/abc", body(), format="json"), 400, "BAD_REQUEST")
    rule.refresh_from_db()
    assert rule.tag_selectors[0]["pattern"] == "v*"


def test_duplicates_conflict(lib):
    first, second = make(lib, "v*"), make(lib, "w*")
    _error(basic_client("padmin").post(RULES, body("v*"), format="json"), 409, "CONFLICT")
    _error(basic_client("padmin").put(f"{RULES}/{second.pk}", body("v*"), format="json"), 409, "CONFLICT")
    assert ImmutabilityRule.objects.count() == 2
    assert basic_client("padmin").put(f"{RULES}/{first.pk}", body("v*"), format="json").status_code == 200


def test_a_project_holds_at_most_15_rules(lib):
    for i in range(MAX_RULES_PER_PROJECT):
        make(lib, f"t{i}")
    _error(basic_client("padmin").post(RULES, body("one-more"), format="json"), 400, "BAD_REQUEST")


def test_refusals_by_role(lib):
    rule = make(lib)
    for name in ("developer", "guest", "limited"):
        client = basic_client(name)
        _error(client.post(RULES, body("x"), format="json"), 403, "FORBIDDEN")
        _error(client.put(f"{RULES}/{rule.pk}", body("x"), format="json"), 403, "FORBIDDEN")
        _error(client.delete(f"{RULES}/{rule.pk}"), 403, "FORBIDDEN")
    for name in ("developer", "guest", "limited"):
        _error(basic_client(name).get(RULES), 403, "FORBIDDEN")
    assert basic_client("maintainer").get(RULES).status_code == 200
    _error(basic_client("outsider").get(RULES), 404, "NOT_FOUND")
    _error(basic_client(None).get(RULES), 401, "UNAUTHORIZED")
    _error(basic_client(None).post(RULES, body("x"), format="json"), 401, "UNAUTHORIZED")
    assert ImmutabilityRule.objects.get().tag_selectors == rule.tag_selectors


def test_a_rule_of_another_project_is_not_found(lib, users):
    other = project_create(name="other")
    foreign = make(other)
    admin = basic_client("padmin")
    _error(admin.put(f"{RULES}/{foreign.pk}", body("x"), format="json"), 404, "NOT_FOUND")
    _error(admin.delete(f"{RULES}/{foreign.pk}"), 404, "NOT_FOUND")
    assert ImmutabilityRule.objects.filter(pk=foreign.pk, project=other).exists()
    _error(admin.get("/api/v2.0/projects/nope/immutabletagrules"), 404, "NOT_FOUND")
