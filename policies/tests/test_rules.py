"""The pure matcher: doublestar patterns, selector decorations, and rule evaluation (every selector counts)."""

from __future__ import annotations

import pytest

from policies.rules import (
    PatternInvalid,
    Rule,
    RuleInvalid,
    Selector,
    doublestar_match,
    is_immutable,
    pattern_validate,
    selectors_validate,
)

MATCHES = [
    # `**` spans segments, including none
    ("**", "", True),
    ("**", "app", True),
    ("**", "a/b/c", True),
    ("a/**", "a", True),
    ("a/**", "a/b", True),
    ("a/**", "a/b/c", True),
    ("a/**", "ab", False),
    ("a/**", "b/a", False),
    ("**/c", "c", True),
    ("**/c", "a/b/c", True),
    ("**/c", "a/bc", False),
    ("a/**/c", "a/c", True),
    ("a/**/c", "a/b/c", True),
    ("a/**/c", "a/b/d/c", True),
    ("a/**/c", "a/b/d", False),
    ("a/**/c", "ac", False),
    # `**` inside a segment is a plain `*`
    ("a**", "abc", True),
    ("a**", "ab/c", False),
    ("**b", "a/b", False),
    # `*` stays within a segment
    ("*", "app", True),
    ("*", "", True),
    ("*", "a/b", False),
    ("a/*", "a/b", True),
    ("a/*", "a/b/c", False),
    ("*/*", "a/b", True),
    ("v*", "v1.0", True),
    ("v*", "1.0", False),
    ("*-rc", "1.0-rc", True),
    ("*-rc", "1.0-rc1", False),
    ("*.*", "1.0", True),
    ("*.*", "latest", False),
    # `?` is one character, never a slash
    ("v?", "v1", True),
    ("v?", "v10", False),
    ("v?", "v", False),
    ("a?b", "a/b", False),
    ("??", "ab", True),
    # alternatives, nested, empty, with wildcards and slashes inside
    ("{a,b}", "a", True),
    ("{a,b}", "b", True),
    ("{a,b}", "c", False),
    ("{a,b}", "ab", False),
    ("v{1,2}.*", "v1.0", True),
    ("v{1,2}.*", "v2.9", True),
    ("v{1,2}.*", "v3.0", False),
    ("{release,stable}-*", "stable-2024", True),
    ("{release,stable}-*", "nightly-2024", False),
    ("{a,b{c,d}}", "bd", True),
    ("{a,b{c,d}}", "bc", True),
    ("{a,b{c,d}}", "b", False),
    ("x{,y}", "x", True),
    ("x{,y}", "xy", True),
    ("{a/**,b}", "a/x/y", True),
    ("{a/**,b}", "b/x", False),
    ("{*,x/*}", "x/y", True),
    # classes
    ("[abc]", "b", True),
    ("[abc]", "d", False),
    ("[a-c]x", "bx", True),
    ("[a-c]x", "dx", False),
    ("[!a-c]x", "dx", True),
    ("[^a-c]x", "ax", False),
    ("[!a]", "/", False),
    ("v[0-9].[0-9]", "v1.2", True),
    ("v[0-9].[0-9]", "v1.x", False),
    # literals: regex metacharacters mean themselves, escapes work
    ("v1.0", "v1.0", True),
    ("v1.0", "v1x0", False),
    ("a+b", "a+b", True),
    ("a+b", "aab", False),
    ("(x)", "(x)", True),
    ("$^", "$^", True),
    ("\\*", "*", True),
    ("\\*", "a", False),
    ("\\{a\\}", "{a}", True),
    ("a|b", "a", False),
    ("a|b", "a|b", True),
    # whole-name anchoring
    ("app", "myapp", False),
    ("app", "app2", False),
    ("", "", True),
    ("", "a", False),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), MATCHES)
def test_doublestar_match(pattern, name, expected):
    assert doublestar_match(pattern, name) is expected


@pytest.mark.parametrize("pattern", ["{a,b", "a{", "[abc", "[", "[]", "a\\", "{a,[b}"])
def test_malformed_patterns_are_refused(pattern):
    with pytest.raises(PatternInvalid):
        pattern_validate(pattern)


@pytest.mark.parametrize("pattern", ["", "x" * 256])
def test_empty_and_overlong_patterns_are_refused(pattern):
    with pytest.raises(PatternInvalid):
        pattern_validate(pattern)


def _rule(repo_decoration: str, repo: str, tag_decoration: str, tag: str, *, disabled: bool = False) -> Rule:
    return Rule.from_json(
        scope_selectors={"repository": [{"kind": "doublestar", "decoration": repo_decoration, "pattern": repo}]},
        tag_selectors=[{"kind": "doublestar", "decoration": tag_decoration, "pattern": tag}],
        disabled=disabled,
    )


RULE_CASES = [
    # (repository selector, tag selector, repository, tag, immutable?)
    (("repoMatches", "**"), ("matches", "**"), "app", "latest", True),
    (("repoMatches", "**"), ("matches", "v*"), "app", "v1", True),
    (("repoMatches", "**"), ("matches", "v*"), "app", "latest", False),
    (("repoMatches", "app"), ("matches", "**"), "app", "v1", True),
    (("repoMatches", "app"), ("matches", "**"), "other", "v1", False),
    (("repoMatches", "team/**"), ("matches", "**"), "team/a/b", "v1", True),
    (("repoMatches", "team/**"), ("matches", "**"), "app", "v1", False),
    # excludes invert each selector on its own
    (("repoExcludes", "app"), ("matches", "**"), "app", "v1", False),
    (("repoExcludes", "app"), ("matches", "**"), "web", "v1", True),
    (("repoMatches", "**"), ("excludes", "latest"), "app", "latest", False),
    (("repoMatches", "**"), ("excludes", "latest"), "app", "v1", True),
    (("repoExcludes", "app"), ("excludes", "dev-*"), "web", "dev-1", False),
    (("repoExcludes", "app"), ("excludes", "dev-*"), "web", "v1", True),
    (("repoExcludes", "app"), ("excludes", "dev-*"), "app", "v1", False),
    # the repository selector is evaluated too, not only the tag selector
    (("repoMatches", "web"), ("matches", "v1"), "app", "v1", False),
    (("repoMatches", "{app,web}"), ("matches", "{v1,v2}"), "web", "v2", True),
]


@pytest.mark.parametrize(("repo_sel", "tag_sel", "repository", "tag", "expected"), RULE_CASES)
def test_every_selector_of_a_rule_counts(repo_sel, tag_sel, repository, tag, expected):
    rule = _rule(*repo_sel, *tag_sel)
    assert is_immutable([rule], repository, tag) is expected


def test_disabled_rules_protect_nothing():
    assert not is_immutable([_rule("repoMatches", "**", "matches", "**", disabled=True)], "app", "v1")


def test_any_rule_suffices():
    rules = [_rule("repoMatches", "app", "matches", "v1"), _rule("repoMatches", "web", "matches", "v2")]
    assert is_immutable(rules, "web", "v2")
    assert is_immutable(rules, "app", "v1")
    assert not is_immutable(rules, "app", "v2")
    assert not is_immutable([], "app", "v1")


def test_a_rule_without_selectors_protects_nothing():
    assert not Rule((), (Selector("matches", "**"),)).protects("app", "v1")
    assert not Rule((Selector("repoMatches", "**"),), ()).protects("app", "v1")


def test_selectors_validate_normalises():
    scope, tags = selectors_validate(
        scope_selectors={"repository": [{"decoration": "repoMatches", "pattern": "**", "extras": ""}]},
        tag_selectors=[{"kind": "doublestar", "decoration": "excludes", "pattern": "v*"}],
    )
    assert scope == {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}
    assert tags == [{"kind": "doublestar", "decoration": "excludes", "pattern": "v*"}]


GOOD_REPO = {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}
GOOD_TAGS = [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}]


@pytest.mark.parametrize(
    ("scope", "tags"),
    [
        (None, GOOD_TAGS),
        ({}, GOOD_TAGS),
        ({"repository": []}, GOOD_TAGS),
        ({"repository": GOOD_REPO["repository"] * 2}, GOOD_TAGS),
        ({"repository": GOOD_REPO["repository"], "namespace": []}, GOOD_TAGS),
        ({"repository": [{"kind": "regexp", "decoration": "repoMatches", "pattern": "x"}]}, GOOD_TAGS),
        ({"repository": [{"decoration": "matches", "pattern": "x"}]}, GOOD_TAGS),
        ({"repository": [{"decoration": "repoMatches", "pattern": "{x"}]}, GOOD_TAGS),
        ({"repository": ["**"]}, GOOD_TAGS),
        (GOOD_REPO, None),
        (GOOD_REPO, []),
        (GOOD_REPO, GOOD_TAGS * 2),
        (GOOD_REPO, [{"decoration": "repoMatches", "pattern": "**"}]),
        (GOOD_REPO, [{"decoration": "matches", "pattern": ""}]),
        (GOOD_REPO, [{"decoration": "matches", "pattern": 7}]),
        (GOOD_REPO, "**"),
    ],
)
def test_selectors_validate_refuses(scope, tags):
    with pytest.raises(RuleInvalid):
        selectors_validate(scope_selectors=scope, tag_selectors=tags)
