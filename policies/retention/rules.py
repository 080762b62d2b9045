"""Tag retention rules, evaluated without the ORM (Harbor's retention policy engine, "or" algorithm).

Harbor semantics (src/pkg/retention): a policy's enabled rules each look at the repositories their
scope selectors admit; within one repository, a rule's tag selectors choose the candidates (one per
artifact, with all its tags), then its template keeps some of them. Rules are OR-ed: an artifact is
retained when any rule keeps it; every other candidate of the repository is deleted. A repository no
rule looks at is left alone.

Tag selectors follow Harbor's doublestar selector: `matches` selects an artifact when any of its tags
matches, `excludes` when any of its tags does not; untagged artifacts are selected by `matches` when
`extras` says `{"untagged": true}` and by `excludes` when it says `{"untagged": false}`. Without
extras Harbor keeps its upgrade default (untagged artifacts selected by both).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from policies.rules import (
    KIND,
    REPO_DECORATIONS,
    REPOSITORY_SCOPE,
    RuleInvalid,
    Selector,
    doublestar_match,
    selector_validate,
)

ACTION = "retain"
ALGORITHM = "or"
MAX_RULES = 15  # Harbor's handler: "only 15 rules are allowed at most"
TAG_DECORATIONS = frozenset({"matches", "excludes"})

LATEST_PUSHED_K = "latestPushedK"
LATEST_PULLED_N = "latestPulledN"
LATEST_ACTIVE_K = "latestActiveK"
LAST_X_DAYS = "lastXDays"
DAYS_SINCE_LAST_PULL = "nDaysSinceLastPull"
DAYS_SINCE_LAST_PUSH = "nDaysSinceLastPush"
ALWAYS = "always"

# Harbor's validators: counts below math.MaxInt16, days at most 20190904.
MAX_COUNT = 2**15 - 2
MAX_DAYS = 20190904
# Template -> (unit of its one parameter or None, largest accepted value).
TEMPLATES: dict[str, tuple[str | None, int]] = {
    LATEST_PUSHED_K: ("count", MAX_COUNT),
    LATEST_PULLED_N: ("count", MAX_COUNT),
    LATEST_ACTIVE_K: ("count", MAX_COUNT),
    LAST_X_DAYS: ("days", MAX_DAYS),
    DAYS_SINCE_LAST_PULL: ("days", MAX_DAYS),
    DAYS_SINCE_LAST_PUSH: ("days", MAX_DAYS),
    ALWAYS: (None, 0),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RetentionInvalid(ValueError):
    """A policy or rule Harbor would refuse."""


class RuleConflict(RetentionInvalid):
    """Two rules of a policy are the same (Harbor answers 409)."""


@dataclass(frozen=True)
class Candidate:
    """One artifact of a repository as the rules see it (times are aware datetimes; None: never pulled)."""

    repository: str  # the name without the project, as Harbor's selectors see it
    digest: str
    tags: tuple[str, ...]
    push_time: datetime
    pull_time: datetime | None = None
    creation_time: datetime | None = None
    id: int | None = None  # the caller's key (artifact pk); opaque to the engine


@dataclass(frozen=True)
class TagSelector:
    decoration: str
    pattern: str
    untagged: bool

    @classmethod
    def from_json(cls, raw: Mapping) -> TagSelector:
        decoration = raw.get("decoration", "matches")
        untagged = decoration != "excludes"  # Harbor's default "for upgrade"
        extras = raw.get("extras") or ""
        if extras:
            try:
                parsed = json.loads(extras)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get("untagged", False), bool):
                untagged = parsed.get("untagged", False)
        return cls(decoration, raw.get("pattern", ""), untagged)

    def _match(self, tag: str) -> bool:
        return not self.pattern or doublestar_match(self.pattern, tag)

    def selects(self, candidate: Candidate) -> bool:
        if not candidate.tags:
            return self.untagged if self.decoration == "matches" else not self.untagged
        if self.decoration == "matches":
            return any(self._match(tag) for tag in candidate.tags)
        return any(not self._match(tag) for tag in candidate.tags)


@dataclass(frozen=True)
class Rule:
    """One retention rule as values."""

    template: str
    param: int | None
    repository_selectors: tuple[Selector, ...]
    tag_selectors: tuple[TagSelector, ...]
    disabled: bool = False
    index: int = 0  # its position in the policy (1-based in messages)
    priority: int = 0

    @classmethod
    def from_json(cls, raw: Mapping, *, index: int = 0) -> Rule:
        template = raw.get("template", "")
        params = raw.get("params") or {}
        value = params.get(template)
        param = int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        repos = tuple(
            Selector(s.get("decoration", ""), s.get("pattern", ""), s.get("kind", KIND))
            for s in (raw.get("scope_selectors") or {}).get(REPOSITORY_SCOPE, [])
        )
        tags = tuple(TagSelector.from_json(s) for s in raw.get("tag_selectors") or [])
        return cls(template, param, repos, tags, bool(raw.get("disabled")), index, int(raw.get("priority") or 0))

    @property
    def label(self) -> str:
        text = self.template if self.param is None else f"{self.template}={self.param}"
        return f"rule {self.index + 1} ({text})"

    def applies_to(self, repository: str) -> bool:
        """Whether the rule looks at `repository` (all its repository selectors admit it)."""
        return not self.disabled and all(s.admits(repository) for s in self.repository_selectors)

    def selects(self, candidate: Candidate) -> bool:
        return all(s.selects(candidate) for s in self.tag_selectors)


def rules_from_json(rules: Iterable[Mapping]) -> list[Rule]:
    return [Rule.from_json(raw, index=i) for i, raw in enumerate(rules)]


def _latest_pulled(c: Candidate) -> datetime:
    return c.pull_time or EPOCH


def _active(c: Candidate) -> datetime:
    return max(c.push_time, c.pull_time or EPOCH)


def _newest(key: Callable[[Candidate], datetime], k: int) -> Callable[[list[Candidate], datetime], list[Candidate]]:
    def keep(selected: list[Candidate], now: datetime) -> list[Candidate]:
        # Newest first; equal times fall back to the newer row, then the digest, so runs are repeatable.
        ordered = sorted(selected, key=lambda c: (key(c), c.id or 0, c.digest), reverse=True)
        return ordered[:k]

    return keep


def _cutoff(now: datetime, days: int) -> datetime:
    try:
        return now - timedelta(days=days)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def _keeper(rule: Rule) -> Callable[[list[Candidate], datetime], list[Candidate]]:
    n = rule.param or 0
    if rule.template == LATEST_PUSHED_K:
        return _newest(lambda c: c.push_time, n)
    if rule.template == LATEST_PULLED_N:
        return _newest(_latest_pulled, n)
    if rule.template == LATEST_ACTIVE_K:
        return _newest(_active, n)
    if rule.template == LAST_X_DAYS:  # Harbor: pushed strictly after the cutoff
        return lambda selected, now: [c for c in selected if c.push_time > _cutoff(now, n)]
    if rule.template == DAYS_SINCE_LAST_PUSH:
        return lambda selected, now: [c for c in selected if c.push_time >= _cutoff(now, n)]
    if rule.template == DAYS_SINCE_LAST_PULL:
        return lambda selected, now: [c for c in selected if _latest_pulled(c) >= _cutoff(now, n)]
    if rule.template == ALWAYS:
        return lambda selected, now: list(selected)
    raise RetentionInvalid(f"unknown rule template {rule.template!r}")


@dataclass(frozen=True)
class Decision:
    """What the rules decided for one candidate, and which rules retained it."""

    candidate: Candidate
    retained_by: tuple[str, ...] = field(default_factory=tuple)

    @property
    def retained(self) -> bool:
        return bool(self.retained_by)

    @property
    def reason(self) -> str:
        if self.retained_by:
            return "retained by " + ", ".join(self.retained_by)
        return "no rule retains it"


def retention_evaluate(*, rules: Sequence[Rule], candidates: Sequence[Candidate], now: datetime) -> list[Decision]:
    """Decide every candidate of ONE repository: retained when an applicable rule keeps it, else deleted.

    Only rules that apply to the candidates' repository count; the caller skips repositories to which
    no rule applies (`repository_selected`). Decisions come back in the candidates' order.
    """
    by_key: dict[int, list[str]] = {i: [] for i in range(len(candidates))}
    position = {id(c): i for i, c in enumerate(candidates)}
    repository = candidates[0].repository if candidates else ""
    for rule in rules:
        if not rule.applies_to(repository) or not rule.tag_selectors:
            continue  # Harbor's processor drops a rule without tag selectors
        selected = [c for c in candidates if rule.selects(c)]
        for kept in _keeper(rule)(selected, now):
            by_key[position[id(kept)]].append(rule.label)
    return [Decision(c, tuple(by_key[i])) for i, c in enumerate(candidates)]


def repository_selected(rules: Iterable[Rule], repository: str) -> bool:
    """Whether any enabled rule looks at `repository` (Harbor launches a task only for those)."""
    return any(rule.applies_to(repository) for rule in rules)


# --- validation of the JSON Harbor's API accepts --------------------------------------------------------------


def _selector(raw: object, decorations: frozenset[str], *, extras: bool) -> dict:
    try:
        cleaned = selector_validate(raw, decorations)  # the immutability rules' check: one grammar
    except RuleInvalid as exc:
        raise RetentionInvalid(str(exc)) from exc
    assert isinstance(raw, Mapping)  # selector_validate refused anything else
    value = raw.get("extras")
    if extras and value not in (None, ""):
        if not isinstance(value, str) or len(value) > 1024:
            raise RetentionInvalid("selector extras must be a JSON string")
        cleaned["extras"] = value
    return cleaned


def _param(template: str, params: object) -> dict:
    unit, largest = TEMPLATES[template]
    if unit is None:
        return {}
    if not isinstance(params, Mapping) or template not in params:
        raise RetentionInvalid(f"missing required parameter {template} for rule {template}")
    value = params[template]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise RetentionInvalid(f"{template} type error: an integer is required")
    if value < 0:
        raise RetentionInvalid(f"{template} is less than zero")
    if value > largest:
        raise RetentionInvalid(f"{template} is too large")
    return {template: int(value)}


def rule_validate(raw: object) -> dict:
    """One normalised rule (action retain, a known template and its parameter, valid selectors)."""
    if not isinstance(raw, Mapping):
        raise RetentionInvalid("a rule must be an object")
    template = raw.get("template")
    if template not in TEMPLATES:
        raise RetentionInvalid(f"rule evaluator {str(template)[:50]!r} is not registered")
    action = raw.get("action") or ACTION
    if action != ACTION:
        raise RetentionInvalid(f"rule action {str(action)[:50]!r} is not supported (only {ACTION!r})")
    scope = raw.get("scope_selectors")
    if not isinstance(scope, Mapping) or set(scope) != {REPOSITORY_SCOPE}:
        raise RetentionInvalid('scope_selectors must be {"repository": [selector, ...]}')
    repos = scope[REPOSITORY_SCOPE]
    if not isinstance(repos, list) or not repos:
        raise RetentionInvalid("scope_selectors.repository must hold at least one selector")
    tags = raw.get("tag_selectors")
    if not isinstance(tags, list) or not tags:
        raise RetentionInvalid("tag_selectors must hold at least one selector")
    priority, disabled = raw.get("priority", 0), raw.get("disabled", False)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise RetentionInvalid("priority must be an integer")
    if not isinstance(disabled, bool):
        raise RetentionInvalid("disabled must be a boolean")
    return {
        "priority": priority,
        "disabled": disabled,
        "action": ACTION,
        "template": template,
        "params": _param(template, raw.get("params")),
        "tag_selectors": [_selector(s, TAG_DECORATIONS, extras=True) for s in tags],
        "scope_selectors": {REPOSITORY_SCOPE: [_selector(s, REPO_DECORATIONS, extras=False) for s in repos]},
    }


def rules_validate(rules: object) -> list[dict]:
    """The normalised rules of a policy: at most MAX_RULES, no two alike (Harbor's checkRuleConflict)."""
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise RetentionInvalid("rules must be an array")
    if len(rules) > MAX_RULES:
        raise RetentionInvalid(f"only {MAX_RULES} rules are allowed at most")
    cleaned = [rule_validate(raw) for raw in rules]
    seen: dict[str, int] = {}
    for n, rule in enumerate(cleaned):
        key = json.dumps(rule, sort_keys=True)
        if key in seen:
            raise RuleConflict(f"rule {n} is conflict with rule {seen[key]}")
        seen[key] = n
    return cleaned
