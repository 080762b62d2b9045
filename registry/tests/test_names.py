"""registry/names.py: repository names and tags per the distribution-spec grammar."""

from __future__ import annotations

import pytest

from projects.names import is_valid_project_name
from registry.errors import ManifestInvalid, NameInvalid
from registry.names import MAX_NAME_LENGTH, RepositoryName, tag_validate


@pytest.mark.parametrize(
    ("value", "project"),
    [
        ("library/ubuntu", "library"),
        ("team/app", "team"),
        ("a/b/c/d", "a"),
        ("a0/b-c", "a0"),
        ("a/b---c", "a"),  # dist-spec: -+ is one separator
        ("a/b__c", "a"),
        ("a/b_c.d", "a"),
        ("my.project/x", "my.project"),
        ("p/" + "a" * (MAX_NAME_LENGTH - 2), "p"),
    ],
)
def test_parse_accepts_spec_names(value, project):
    name = RepositoryName.parse(value)
    assert name.full == value
    assert name.project == project
    assert str(name) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "library",  # every repository lives in a project
        "Library/ubuntu",
        "library/Ubuntu",
        "/a",
        "a/",
        "a//b",
        "a/-b",
        "a/b-",
        "a/b_",
        "a/_b",
        "a/.b",
        "a/b..c",
        "a/b___c",
        "a/b._c",
        "a/../b",
        "a/./b",
        "a/b c",
        "a/b:tag",
        "a/b@sha256",
        "a/b\n",  # a trailing newline must not slip through `$`
        "a\n/b",
        "a/b%2f",
        "p/" + "a" * (MAX_NAME_LENGTH - 1),  # 256 characters
    ],
)
def test_parse_refuses_names_outside_the_grammar(value):
    with pytest.raises(NameInvalid) as excinfo:
        RepositoryName.parse(value)
    assert excinfo.value.code == "NAME_INVALID"
    assert excinfo.value.status == 400


def test_parse_error_message_is_bounded():
    with pytest.raises(NameInvalid) as excinfo:
        RepositoryName.parse("A" * 100_000)
    assert len(excinfo.value.message) < 400


@pytest.mark.parametrize("tag", ["latest", "v1.0.0", "1.0-rc.1", "_private", "A", "UPPER_lower-9.x", "a" * 128])
def test_tag_validate_accepts_spec_tags(tag):
    assert tag_validate(tag) == tag


@pytest.mark.parametrize(
    "tag", ["", ".hidden", "-dash", "a" * 129, "a/b", "a:b", "a b", "latest\n", "ümlaut", "sha256:" + "0" * 64]
)
def test_tag_validate_refuses_other_tags(tag):
    with pytest.raises(ManifestInvalid):
        tag_validate(tag)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("library", True),
        ("my-project", True),
        ("my.project_1", True),
        ("a" * MAX_NAME_LENGTH, True),
        ("", False),
        ("a" * (MAX_NAME_LENGTH + 1), False),
        ("team/app", False),
        ("Team", False),
        ("-team", False),
        ("team\n", False),
    ],
)
def test_is_valid_project_name(value, expected):
    assert is_valid_project_name(value) is expected
