"""Tag immutability rules, evaluated without the ORM: doublestar patterns and selector semantics.

Harbor matches with github.com/bmatcuk/doublestar: `**` spans path segments, `*` and `?` stay within
one, `[...]` is a class, `{a,b}` alternatives. Written by hand (translated to an anchored regex once
per pattern) because Python's fnmatch/glob know neither `**` across slashes nor `{a,b}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

KIND = "doublestar"
ACTION = "immutable"
TEMPLATE = "immutable_template"
REPOSITORY_SCOPE = "repository"
REPO_DECORATIONS = frozenset({"repoMatches", "repoExcludes"})
TAG_DECORATIONS = frozenset({"matches", "excludes"})
MAX_PATTERN = 255


class PatternInvalid(ValueError):
    """A doublestar pattern that can't be parsed (unclosed `{` or `[`, trailing escape)."""


class RuleInvalid(ValueError):
    """A rule whose selectors Harbor would refuse."""


def _class(pattern: str, i: int) -> tuple[str, int]:
    """`[...]` at pattern[i] -> (regex class excluding '/', index after it)."""
    j = i + 1
    negate = j < len(pattern) and pattern[j] in "!^"
    if negate:
        j += 1
    body = []
    first = True
    while j < len(pattern) and (pattern[j] != "]" or first):
        ch = pattern[j]
        if ch == "\\":
            if j + 1 >= len(pattern):
                raise PatternInvalid(f"trailing escape in {pattern!r}")
            body.append(re.escape(pattern[j + 1]))
            j += 2
        else:
            body.append(ch if ch == "-" else re.escape(ch))
            j += 1
        first = False
    if j >= len(pattern) or not body:
        raise PatternInvalid(f"unclosed character class in {pattern!r}")
    inner = "".join(body)
    return (f"(?!/)[^{inner}]" if negate else f"(?!/)[{inner}]"), j + 1


def _translate(pattern: str, i: int, stops: str) -> tuple[str, int]:
    """Translate pattern[i:] up to an unescaped character of `stops` (at brace depth 0)."""
    out: list[str] = []
    n = len(pattern)
    while i < n and pattern[i] not in stops:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise PatternInvalid(f"trailing escape in {pattern!r}")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif ch == "*":
            if pattern.startswith("**", i):
                start = i == 0 or pattern[i - 1] == "/"
                end = i + 2 == n or pattern[i + 2] in "/" + stops
                if start and end:
                    if i + 2 < n and pattern[i + 2] == "/":
                        out.append("(?:.*/)?")  # `**/`: zero or more whole segments
                        i += 3
                    elif out and out[-1] == "/":
                        out[-1] = "(?:/.*)?"  # trailing `/**`: the directory itself or anything below
                        i += 2
                    else:
                        out.append(".*")
                        i += 2
                    continue
                # doublestar: `**` inside a segment behaves like `*`
                out.append("[^/]*")
                i += 2
            else:
                out.append("[^/]*")
                i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            piece, i = _class(pattern, i)
            out.append(piece)
        elif ch == "{":
            alternatives = []
            i += 1
            while True:
                piece, i = _translate(pattern, i, ",}")
                alternatives.append(piece)
                if i >= n:
                    raise PatternInvalid(f"unclosed '{{' in {pattern!r}")
                if pattern[i] == "}":
                    i += 1
                    break
                i += 1  # ','
            out.append("(?:" + "|".join(alternatives) + ")")
        elif ch == "/":
            out.append("/")
            i += 1
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out), i


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    regex, end = _translate(pattern, 0, "")
    if end != len(pattern):  # pragma: no cover - _translate with no stops consumes everything
        raise PatternInvalid(pattern)
    return re.compile(regex, re.DOTALL)


def pattern_validate(pattern: str) -> str:
    """The pattern, or PatternInvalid."""
    if not pattern or len(pattern) > MAX_PATTERN:
        raise PatternInvalid(f"pattern must be 1 to {MAX_PATTERN} characters")
    _compile(pattern)
    return pattern


def doublestar_match(pattern: str, name: str) -> bool:
    """Whether `name` matches the doublestar `pattern` as a whole."""
    return _compile(pattern).fullmatch(name) is not None


@dataclass(frozen=True)
class Selector:
    decoration: str
    pattern: str
    kind: str = KIND

    def admits(self, name: str) -> bool:
        matched = doublestar_match(self.pattern, name)
        return not matched if self.decoration in ("excludes", "repoExcludes") else matched


@dataclass(frozen=True)
class Rule:
    """An immutability rule as values: it protects a tag when EVERY selector admits it."""

    repository_selectors: tuple[Selector, ...]
    tag_selectors: tuple[Selector, ...]
    disabled: bool = False

    @classmethod
    def from_json(cls, *, scope_selectors: Mapping, tag_selectors: Iterable, disabled: bool = False) -> Rule:
        repos = tuple(
            Selector(s["decoration"], s["pattern"], s.get("kind", KIND))
            for s in (scope_selectors or {}).get(REPOSITORY_SCOPE, [])
        )
        tags = tuple(Selector(s["decoration"], s["pattern"], s.get("kind", KIND)) for s in tag_selectors or [])
        return cls(repos, tags, disabled)

    def protects(self, repository: str, tag: str) -> bool:
        if self.disabled or not self.tag_selectors or not self.repository_selectors:
            return False
        return all(s.admits(repository) for s in self.repository_selectors) and all(
            s.admits(tag) for s in self.tag_selectors
        )


def is_immutable(rules: Iterable[Rule], repository: str, tag: str) -> bool:
    """Whether any enabled rule protects `tag` of `repository` (its name without the project)."""
    return any(rule.protects(repository, tag) for rule in rules)


def selector_validate(raw: object, decorations: frozenset[str]) -> dict:
    """A selector of Harbor's JSON, checked and cleaned (kind, decoration, pattern); RuleInvalid otherwise."""
    return _selector_validate(raw, decorations)


def _selector_validate(raw: object, decorations: frozenset[str]) -> dict:
    if not isinstance(raw, Mapping):
        raise RuleInvalid("a selector must be an object")
    kind = raw.get("kind") or KIND
    if kind != KIND:
        raise RuleInvalid(f"selector kind {str(kind)[:50]!r} is not supported (only {KIND!r})")
    decoration = raw.get("decoration")
    if decoration not in decorations:
        raise RuleInvalid(f"decoration {str(decoration)[:50]!r} must be one of {sorted(decorations)}")
    pattern = raw.get("pattern")
    if not isinstance(pattern, str):
        raise RuleInvalid("selector pattern must be a string")
    try:
        pattern_validate(pattern)
    except PatternInvalid as exc:
        raise RuleInvalid(str(exc)) from exc
    return {"kind": KIND, "decoration": decoration, "pattern": pattern}


def selectors_validate(*, scope_selectors: object, tag_selectors: object) -> tuple[dict, list[dict]]:
    """Normalised (scope_selectors, tag_selectors): exactly one repository selector and one tag selector."""
    if not isinstance(scope_selectors, Mapping) or set(scope_selectors) != {REPOSITORY_SCOPE}:
        raise RuleInvalid('scope_selectors must be {"repository": [selector]}')
    repos = scope_selectors[REPOSITORY_SCOPE]
    if not isinstance(repos, list) or len(repos) != 1:
        raise RuleInvalid("scope_selectors.repository must hold exactly one selector")
    if not isinstance(tag_selectors, list) or len(tag_selectors) != 1:
        raise RuleInvalid("tag_selectors must hold exactly one selector")
    return (
        {REPOSITORY_SCOPE: [_selector_validate(repos[0], REPO_DECORATIONS)]},
        [_selector_validate(tag_selectors[0], TAG_DECORATIONS)],
    )
