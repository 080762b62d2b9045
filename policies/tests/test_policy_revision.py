"""The project's policy revision: every rule write moves it, and a push never answers from stale rules.

The manifest push reads the revision in its first statement and the immutability gate remembers the
project's rules per process for it (policies/selectors.py). A rule write does not clear that memory
(no process could clear another's): it moves the revision on, so the tests below, in one process,
stand for any number of gunicorn workers.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from policies.selectors import project_rules
from policies.services import immutability_rule_create, immutability_rule_delete, immutability_rule_update
from projects.models import Project
from projects.services import project_create
from registry.errors import TagImmutable
from registry.models import Tag
from registry.services import manifests
from registry.services.manifests import manifest_push
from registry.tests.api import builders
from registry.tests.test_gc_races import _thread, _waiting


def _rule(project: Project, tag: str):  # noqa: ANN202
    return immutability_rule_create(
        project=project,
        scope_selectors={"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": tag}],
    )


def _revision(project: Project) -> int:
    return Project.objects.values_list("policy_revision", flat=True).get(pk=project.pk)


def _push(repo, artifact, tag: str):  # noqa: ANN001, ANN202
    body = bytes(artifact.manifest)
    return manifest_push(repository=repo, reference=tag, body=body, content_type=artifact.media_type, tags=[])


@pytest.mark.django_db
def test_every_rule_write_moves_the_project_revision():
    project = project_create(name="lib")
    assert _revision(project) == 0
    assert project_rules(project_id=project.pk, revision=0) == []  # no query: never had a rule
    rule = _rule(project, "v*")
    assert _revision(project) == 1
    immutability_rule_update(rule=rule, disabled=True)
    assert _revision(project) == 2
    immutability_rule_delete(rule=rule)
    assert _revision(project) == 3


@pytest.mark.django_db
def test_rules_remembered_for_a_revision_never_outlive_a_rule_write():
    project = project_create(name="lib")
    repo = builders.repository("lib/app")
    first = builders.image(repo, tag="v1", seed="first")
    second = builders.image(repo, seed="second")
    _rule(project, "keep-*")
    _push(repo, second, "v1")  # v1 is not protected: it moves, and the rules are remembered
    rule = _rule(project, "v*")  # another worker's write, as far as this process can tell
    with pytest.raises(TagImmutable):
        _push(repo, first, "v1")
    immutability_rule_update(rule=rule, disabled=True)
    _push(repo, first, "v1")
    assert Tag.objects.get(repository=repo, name="v1").artifact_id == first.pk


@pytest.fixture
def moving():
    """`lib/app:v1` on one image, and a second image the push below moves it to."""
    project = project_create(name="lib")
    repo = builders.repository("lib/app")
    builders.image(repo, tag="v1", seed="first")
    return project, repo, builders.image(repo, seed="second")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks")
@pytest.mark.django_db(transaction=True)
def test_a_rule_written_during_a_push_waits_for_its_commit(moving, monkeypatch):
    project, repo, second = moving
    inside, release = threading.Event(), threading.Event()
    record = manifests.artifact_pushed_record

    def held_record(**kwargs) -> None:  # noqa: ANN003
        record(**kwargs)
        inside.set()
        assert release.wait(30)

    monkeypatch.setattr(manifests, "artifact_pushed_record", held_record)
    results: dict = {}
    pusher = _thread(lambda: _push(repo, second, "v1"), results, "push")
    assert inside.wait(30)  # the push is about to commit
    writer = _thread(lambda: _rule(project, "v*"), results, "rule")
    _waiting(1)  # the rule write queues on the project row the push holds
    release.set()
    pusher.join()
    writer.join()
    assert not isinstance(results["push"], Exception), results["push"]
    assert not isinstance(results["rule"], Exception), results["rule"]
    assert Tag.objects.get(repository=repo, name="v1").artifact_id == second.pk  # the push came first


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks")
@pytest.mark.django_db(transaction=True)
def test_a_push_during_a_rule_write_waits_for_it_and_is_bound_by_it(moving):
    project, repo, second = moving
    _push(repo, second, "other")  # remember the rules (none) at the current revision
    written, release = threading.Event(), threading.Event()
    results: dict = {}

    def write() -> None:
        with transaction.atomic():
            _rule(project, "v*")
            written.set()
            assert release.wait(30)

    writer = _thread(write, results, "rule")
    assert written.wait(30)
    pusher = _thread(lambda: _push(repo, second, "v1"), results, "push")
    _waiting(1)  # the push queues on the project row behind the rule write
    release.set()
    writer.join()
    pusher.join()
    assert not isinstance(results["rule"], Exception), results["rule"]
    assert isinstance(results["push"], TagImmutable), results["push"]
    assert Tag.objects.get(repository=repo, name="v1").artifact_id != second.pk
