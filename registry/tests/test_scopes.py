"""registry/auth/scopes.py: parsing `type[(class)]:name:actions`, merging, and matching grants."""

from __future__ import annotations

import pytest

from registry.auth.scopes import Scope, access_allows, scopes_parse


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("repository:team/app:pull", Scope("repository", "team/app", frozenset({"pull"}))),
        ("repository:team/app:pull,push", Scope("repository", "team/app", frozenset({"pull", "push"}))),
        ("repository:team/app:*", Scope("repository", "team/app", frozenset({"*"}))),
        ("registry:catalog:*", Scope("registry", "catalog", frozenset({"*"}))),
        # The name may hold colons: a registry host with a port.
        (
            "repository:registry.example.test:5000/team/app:pull,push",
            Scope("repository", "registry.example.test:5000/team/app", frozenset({"pull", "push"})),
        ),
        ("repository:localhost:5000/a:delete", Scope("repository", "localhost:5000/a", frozenset({"delete"}))),
        # `repository(plugin)`: the resource class does not change what is granted.
        ("repository(plugin):team/app:pull", Scope("repository", "team/app", frozenset({"pull"}))),
        ("repository(image):h:443/team/app:push", Scope("repository", "h:443/team/app", frozenset({"push"}))),
        # Empty and repeated actions collapse.
        ("repository:team/app:pull,,pull,", Scope("repository", "team/app", frozenset({"pull"}))),
        ("repository:team/app:", Scope("repository", "team/app", frozenset())),
    ],
)
def test_parse(value, expected):
    assert Scope.parse(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "repository",
        "repository:team/app",  # no actions part
        ":team/app:pull",  # no type
        "repository::pull",  # no name
        "(plugin):team/app:pull",  # a class without a type
        ":",
        "::",
        ":::",
    ],
)
def test_parse_refuses_malformed(value):
    assert Scope.parse(value) is None


def test_claim_is_the_docker_access_entry_with_sorted_actions():
    scope = Scope.parse("repository:team/app:push,pull,delete")
    assert scope.claim() == {"type": "repository", "name": "team/app", "actions": ["delete", "pull", "push"]}


def test_scopes_parse_splits_space_separated_values():
    scopes = scopes_parse(["repository:team/a:pull repository:team/b:push", "registry:catalog:*"])
    assert scopes == [
        Scope("repository", "team/a", frozenset({"pull"})),
        Scope("repository", "team/b", frozenset({"push"})),
        Scope("registry", "catalog", frozenset({"*"})),
    ]


def test_scopes_parse_merges_duplicates_in_first_seen_order():
    scopes = scopes_parse(
        [
            "repository:team/a:pull",
            "repository:team/b:pull",
            "repository:team/a:push repository(plugin):team/a:delete",
            "repository:team/a:pull",
        ]
    )
    assert scopes == [
        Scope("repository", "team/a", frozenset({"pull", "push", "delete"})),
        Scope("repository", "team/b", frozenset({"pull"})),
    ]


def test_scopes_parse_keeps_types_apart():
    scopes = scopes_parse(["repository:catalog:pull", "registry:catalog:*"])
    assert {(s.type, s.name) for s in scopes} == {("repository", "catalog"), ("registry", "catalog")}


def test_scopes_parse_host_port_names_are_not_merged_with_plain_names():
    scopes = scopes_parse(["repository:h:5000/team/a:pull", "repository:team/a:push"])
    assert [(s.name, s.actions) for s in scopes] == [
        ("h:5000/team/a", frozenset({"pull"})),
        ("team/a", frozenset({"push"})),
    ]


def test_scopes_parse_drops_malformed_entries():
    scopes = scopes_parse(["garbage", "repository:team/a:pull   nonsense", "", "   ", "repository::pull"])
    assert scopes == [Scope("repository", "team/a", frozenset({"pull"}))]


def test_scopes_parse_of_nothing():
    assert scopes_parse([]) == []


ACCESS = {
    ("repository", "team/app"): frozenset({"pull"}),
    ("repository", "team/all"): frozenset({"*"}),
    ("registry", "catalog"): frozenset({"*"}),
    ("repository", "team/none"): frozenset(),
}


@pytest.mark.parametrize(
    ("resource_type", "name", "action", "allowed"),
    [
        ("repository", "team/app", "pull", True),
        ("repository", "team/app", "push", False),
        ("repository", "team/app", "delete", False),
        ("repository", "team/all", "push", True),
        ("repository", "team/all", "delete", True),
        ("registry", "catalog", "*", True),
        ("repository", "team/none", "pull", False),
        ("repository", "team/other", "pull", False),
        ("repository", "team/ap", "pull", False),  # no prefix matching
        ("repository", "team/app/sub", "pull", False),
        ("registry", "team/app", "pull", False),  # the type is part of the key
    ],
)
def test_access_allows(resource_type, name, action, allowed):
    assert access_allows(ACCESS, resource_type, name, action) is allowed


def test_access_allows_nothing_for_an_empty_claim():
    assert not access_allows({}, "repository", "team/app", "pull")
