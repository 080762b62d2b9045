"""The retention engine on tables of artifacts: templates, selectors, untagged handling, OR-ing, validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from policies.retention import rules as r
from policies.retention.rules import Candidate

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def art(
    digest: str,
    *tags: str,
    pushed: float = 0,
    pulled: float | None = None,
    repo: str = "app",
    pk: int | None = None,
) -> Candidate:
    """An artifact pushed `pushed` days ago (and pulled `pulled` days ago, or never)."""
    return Candidate(
        repository=repo,
        digest=digest,
        tags=tuple(tags),
        push_time=NOW - timedelta(days=pushed),
        pull_time=None if pulled is None else NOW - timedelta(days=pulled),
        id=pk,
    )


def rule(
    template: str,
    param: int | None = None,
    *,
    tag: str = "**",
    tag_decoration: str = "matches",
    untagged: bool | None = None,
    repo: str = "**",
    repo_decoration: str = "repoMatches",
    disabled: bool = False,
) -> dict:
    selector = {"kind": "doublestar", "decoration": tag_decoration, "pattern": tag}
    if untagged is not None:
        selector["extras"] = json.dumps({"untagged": untagged})
    return {
        "disabled": disabled,
        "action": "retain",
        "template": template,
        "params": {} if param is None else {template: param},
        "tag_selectors": [selector],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": repo_decoration, "pattern": repo}]},
    }


def kept(rules_json: list[dict], candidates: list[Candidate]) -> set[str]:
    decisions = r.retention_evaluate(rules=r.rules_from_json(rules_json), candidates=candidates, now=NOW)
    assert [d.candidate for d in decisions] == candidates  # one decision per candidate, in order
    return {d.candidate.digest for d in decisions if d.retained}


# Five tagged artifacts pushed 1..5 days ago; pulled at other times (c never).
FIVE = [
    art("a", "v1", pushed=5, pulled=1),
    art("b", "v2", pushed=4, pulled=3),
    art("c", "v3", pushed=3),
    art("d", "v4", pushed=2, pulled=10),
    art("e", "v5", pushed=1, pulled=6),
]


@pytest.mark.parametrize(
    ("template", "param", "expected"),
    [
        (r.LATEST_PUSHED_K, 2, {"d", "e"}),
        (r.LATEST_PUSHED_K, 1, {"e"}),
        (r.LATEST_PUSHED_K, 0, set()),
        (r.LATEST_PUSHED_K, 99, {"a", "b", "c", "d", "e"}),
        (r.LATEST_PULLED_N, 2, {"a", "b"}),
        (r.LATEST_PULLED_N, 4, {"a", "b", "e", "d"}),  # never pulled comes last
        (r.LATEST_PULLED_N, 0, set()),
        (r.LATEST_ACTIVE_K, 2, {"a", "e"}),  # active: the later of push and pull
        (r.LATEST_ACTIVE_K, 3, {"a", "e", "d"}),
        (r.LAST_X_DAYS, 3, {"d", "e"}),  # strictly after the cutoff: pushed exactly 3 days ago is out
        (r.LAST_X_DAYS, 0, set()),
        (r.DAYS_SINCE_LAST_PUSH, 3, {"c", "d", "e"}),  # at or after the cutoff
        (r.DAYS_SINCE_LAST_PUSH, 0, set()),
        (r.DAYS_SINCE_LAST_PULL, 3, {"a", "b"}),
        (r.DAYS_SINCE_LAST_PULL, 6, {"a", "b", "e"}),
        (r.DAYS_SINCE_LAST_PULL, 60, {"a", "b", "d", "e"}),  # never pulled: outside any window after 1970
        # Harbor compares Unix seconds, "never" being 0: a window reaching before 1970 takes it too.
        (r.DAYS_SINCE_LAST_PULL, 20190904, {"a", "b", "c", "d", "e"}),
        (r.DAYS_SINCE_LAST_PUSH, 20190904, {"a", "b", "c", "d", "e"}),  # a cutoff before year 1 keeps all
        (r.ALWAYS, None, {"a", "b", "c", "d", "e"}),
    ],
)
def test_templates(template, param, expected):
    assert kept([rule(template, param)], FIVE) == expected


def test_ties_are_broken_by_the_newer_row_then_digest():
    same = [art("x", "t1", pushed=1, pk=1), art("y", "t2", pushed=1, pk=2), art("z", "t3", pushed=1, pk=3)]
    assert kept([rule(r.LATEST_PUSHED_K, 2)], same) == {"y", "z"}
    assert kept([rule(r.LATEST_PUSHED_K, 2)], list(reversed(same))) == {"y", "z"}


MIXED = [
    art("rel1", "release-1", pushed=6),
    art("rel2", "release-2", "latest", pushed=5),
    art("dev1", "dev-1", pushed=4),
    art("dev2", "dev-2", pushed=3),
    art("none1", pushed=2),
    art("none2", pushed=1),
]


@pytest.mark.parametrize(
    ("tag", "decoration", "untagged", "expected"),
    [
        ("release-*", "matches", False, {"rel1", "rel2"}),
        ("release-*", "matches", True, {"rel1", "rel2", "none1", "none2"}),
        ("release-*", "matches", None, {"rel1", "rel2", "none1", "none2"}),  # Harbor's default without extras
        ("latest", "matches", False, {"rel2"}),  # any tag matching selects the artifact
        ("**", "matches", False, {"rel1", "rel2", "dev1", "dev2"}),
        ("{dev,release}-1", "matches", False, {"rel1", "dev1"}),
        ("release-*", "excludes", False, {"rel2", "dev1", "dev2", "none1", "none2"}),  # rel2 also has `latest`
        ("release-*", "excludes", True, {"rel2", "dev1", "dev2"}),  # excludes + untagged: untagged excluded
        ("release-*", "excludes", None, {"rel2", "dev1", "dev2", "none1", "none2"}),
        ("**", "excludes", False, {"none1", "none2"}),
    ],
)
def test_tag_selectors_choose_what_a_rule_looks_at(tag, decoration, untagged, expected):
    assert kept([rule(r.ALWAYS, tag=tag, tag_decoration=decoration, untagged=untagged)], MIXED) == expected


def test_a_count_applies_within_the_selected_artifacts_only():
    # The newest release is kept; the newer dev and untagged artifacts are not counted, and go.
    assert kept([rule(r.LATEST_PUSHED_K, 1, tag="release-*", untagged=False)], MIXED) == {"rel2"}
    assert kept([rule(r.LATEST_PUSHED_K, 1, tag="**", untagged=True)], MIXED) == {"none2"}


def test_rules_are_ored():
    rules = [
        rule(r.LATEST_PUSHED_K, 1, tag="release-*", untagged=False),
        rule(r.LATEST_PUSHED_K, 1, tag="dev-*", untagged=False),
        rule(r.DAYS_SINCE_LAST_PUSH, 1, tag="**", untagged=True),
    ]
    assert kept(rules, MIXED) == {"rel2", "dev2", "none2"}
    decisions = r.retention_evaluate(rules=r.rules_from_json(rules), candidates=MIXED, now=NOW)
    reasons = {d.candidate.digest: d.reason for d in decisions}
    assert reasons["rel2"] == "retained by rule 1 (latestPushedK=1)"
    assert reasons["none2"] == "retained by rule 3 (nDaysSinceLastPush=1)"
    assert reasons["rel1"] == "no rule retains it"


def test_an_artifact_kept_by_several_rules_names_them_all():
    rules = [rule(r.ALWAYS, tag="release-*", untagged=False), rule(r.LATEST_PUSHED_K, 10, untagged=False)]
    decisions = r.retention_evaluate(rules=r.rules_from_json(rules), candidates=MIXED, now=NOW)
    assert decisions[0].reason == "retained by rule 1 (always), rule 2 (latestPushedK=10)"


def test_disabled_rules_keep_nothing():
    assert kept([rule(r.ALWAYS, disabled=True)], FIVE) == set()
    assert kept([rule(r.ALWAYS, disabled=True), rule(r.LATEST_PUSHED_K, 1)], FIVE) == {"e"}
    assert not r.repository_selected(r.rules_from_json([rule(r.ALWAYS, disabled=True)]), "app")


@pytest.mark.parametrize(
    ("pattern", "decoration", "repository", "selected"),
    [
        ("**", "repoMatches", "app", True),
        ("**", "repoMatches", "team/app", True),
        ("app", "repoMatches", "app", True),
        ("app", "repoMatches", "team/app", False),
        ("*/app", "repoMatches", "team/app", True),
        ("web*", "repoMatches", "app", False),
        ("web*", "repoExcludes", "app", True),
        ("app", "repoExcludes", "app", False),
        ("{app,web}", "repoMatches", "web", True),
    ],
)
def test_repository_selectors(pattern, decoration, repository, selected):
    rules = r.rules_from_json([rule(r.ALWAYS, repo=pattern, repo_decoration=decoration)])
    assert r.repository_selected(rules, repository) is selected
    candidates = [art("a", "v1", repo=repository)]
    # A rule whose scope does not take the repository keeps nothing there.
    assert kept([rule(r.ALWAYS, repo=pattern, repo_decoration=decoration)], candidates) == (
        {"a"} if selected else set()
    )


def test_each_rule_counts_only_in_its_own_repositories():
    rules = [rule(r.ALWAYS, repo="web"), rule(r.LATEST_PUSHED_K, 1, repo="app")]
    assert kept(rules, FIVE) == {"e"}
    assert kept(rules, [art("w", "v1", repo="web", pushed=90)]) == {"w"}


def test_no_candidates_no_decisions():
    assert r.retention_evaluate(rules=r.rules_from_json([rule(r.ALWAYS)]), candidates=[], now=NOW) == []


# --- validation ---------------------------------------------------------------------------------------------------


def test_a_valid_rule_is_normalised():
    raw = rule(r.LATEST_PUSHED_K, 3, untagged=True)
    raw["params"][r.LATEST_PUSHED_K] = 3.0  # JSON numbers may arrive as floats
    raw.pop("action")
    cleaned = r.rules_validate([raw])
    assert cleaned == [
        {
            "priority": 0,
            "disabled": False,
            "action": "retain",
            "template": "latestPushedK",
            "params": {"latestPushedK": 3},
            "tag_selectors": [
                {"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": '{"untagged": true}'}
            ],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        }
    ]
    assert r.rules_validate(None) == []
    assert r.rules_validate([rule(r.ALWAYS)])[0]["params"] == {}


def _with(**changes: object) -> dict:
    raw = rule(r.LATEST_PUSHED_K, 2)
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nope", "a rule must be an object"),
        (_with(template="latestDeployed"), "is not registered"),
        (_with(template=None), "is not registered"),
        (_with(action="immutable"), "only 'retain'"),
        (_with(params={}), "missing required parameter latestPushedK"),
        (_with(params=None), "missing required parameter"),
        (_with(params={"latestPushedK": "2"}), "type error"),
        (_with(params={"latestPushedK": True}), "type error"),
        (_with(params={"latestPushedK": 2.5}), "type error"),
        (_with(params={"latestPushedK": -1}), "less than zero"),
        (_with(params={"latestPushedK": 32767}), "too large"),
        ({**rule(r.DAYS_SINCE_LAST_PULL, 20190905)}, "too large"),
        (_with(scope_selectors={}), "scope_selectors must be"),
        (_with(scope_selectors={"repository": []}), "at least one selector"),
        (_with(scope_selectors={"repository": [{"decoration": "matches", "pattern": "**"}]}), "decoration"),
        (_with(scope_selectors={"project": []}), "scope_selectors must be"),
        (_with(tag_selectors=[]), "tag_selectors must hold"),
        (_with(tag_selectors=[{"decoration": "repoMatches", "pattern": "**"}]), "decoration"),
        (_with(tag_selectors=[{"kind": "label", "decoration": "matches", "pattern": "x"}]), "kind"),
        (_with(tag_selectors=[{"decoration": "matches", "pattern": ""}]), "pattern must be"),
        (_with(tag_selectors=[{"decoration": "matches", "pattern": "{a,b"}]), "unclosed"),
        (_with(tag_selectors=[{"decoration": "matches", "pattern": "**", "extras": 5}]), "extras"),
        (_with(priority="high"), "priority"),
        (_with(disabled="yes"), "disabled"),
    ],
)
def test_invalid_rules_are_refused(raw, message):
    with pytest.raises(r.RetentionInvalid, match=message) as caught:
        r.rules_validate([raw])
    assert not isinstance(caught.value, r.RuleConflict)


def test_at_most_15_rules_and_no_two_alike():
    many = [rule(r.LATEST_PUSHED_K, n) for n in range(16)]
    assert len(r.rules_validate(many[:15])) == 15
    with pytest.raises(r.RetentionInvalid, match="only 15 rules"):
        r.rules_validate(many)
    with pytest.raises(r.RuleConflict, match="rule 1 is conflict with rule 0"):
        r.rules_validate([rule(r.ALWAYS), rule(r.ALWAYS)])
    with pytest.raises(r.RetentionInvalid, match="must be an array"):
        r.rules_validate({"rules": []})


def test_every_template_validates_and_evaluates():
    for template, (unit, largest) in r.TEMPLATES.items():
        param = None if unit is None else largest
        [cleaned] = r.rules_validate([rule(template, param)])
        assert r.retention_evaluate(rules=r.rules_from_json([cleaned]), candidates=FIVE, now=NOW)
