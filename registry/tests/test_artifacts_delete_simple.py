"""Set-wise deletion of stand-alone artifacts (retention's fast path) and what it leaves to artifact_delete."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from common.actor import Actor, acting_as
from common.events import ARTIFACT_DELETED, events_captured
from policies.services import immutability_rule_create
from projects.services import project_create
from registry.models import Artifact, ArtifactBlob, Tag
from registry.services.artifacts import artifact_delete, artifacts_delete_simple
from registry.tests.api import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    project = project_create(name="lib")
    repo = builders.repository("lib/app")
    plain = [builders.image(repo, tag=f"v{n}", seed=f"plain {n}") for n in range(3)]
    untagged = builders.image(repo, seed="untagged")
    child = builders.image(repo, seed="child")
    index = builders.index(repo, [(child, {"architecture": "amd64", "os": "linux"})], tag="multi")
    referred = builders.image(repo, tag="signed-ref", seed="referred")
    builders.signature(repo, referred)
    tag_signed = builders.image(repo, tag="signed-tag", seed="tag signed")
    builders.signature(repo, tag_signed, kind="cosign-tag")
    protected = builders.image(repo, tag="release-1", seed="protected")
    immutability_rule_create(
        project=project,
        scope_selectors={"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}],
    )
    return {
        "repo": repo,
        "plain": plain,
        "untagged": untagged,
        "child": child,
        "index": index,
        "referred": referred,
        "tag_signed": tag_signed,
        "protected": protected,
    }


def test_only_stand_alone_artifacts_go_with_their_tags_links_audit_and_events(
    world, django_capture_on_commit_callbacks
):
    w = world
    candidates = [*w["plain"], w["untagged"], w["child"], w["index"], w["referred"], w["tag_signed"], w["protected"]]
    alone = {a.pk for a in [*w["plain"], w["untagged"]]}
    with (
        events_captured(ARTIFACT_DELETED) as seen,
        acting_as(Actor("retention-bot", "10.0.0.9")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        deleted = artifacts_delete_simple(repository=w["repo"], artifact_ids=[a.pk for a in candidates])
    assert deleted == alone
    assert not Artifact.objects.filter(pk__in=alone).exists()
    assert not Tag.objects.filter(name__in=["v0", "v1", "v2"]).exists()
    assert not ArtifactBlob.objects.filter(artifact_id__in=alone).exists()
    # In an index, an index, with a referrer, with a cosign signature tag, protected: all still there.
    left = {w[k].pk for k in ("child", "index", "referred", "tag_signed", "protected")}
    assert set(Artifact.objects.filter(pk__in=left).values_list("pk", flat=True)) == left
    rows = AuditLog.objects.filter(operation="delete", resource_type="artifact").order_by("resource")
    assert sorted(r.resource for r in rows) == sorted(f"lib/app@{a.digest}" for a in [*w["plain"], w["untagged"]])
    assert {(r.username, r.source_ip, r.project_id) for r in rows} == {
        ("retention-bot", "10.0.0.9", w["repo"].project_id)
    }
    assert sorted(e.data["digest"] for e in seen) == sorted(a.digest for a in [*w["plain"], w["untagged"]])
    assert {tuple(e.data["tags"]) for e in seen} == {("v0",), ("v1",), ("v2",), ()}


def test_what_it_leaves_is_what_artifact_delete_walks_or_refuses(world):
    w = world
    left = artifacts_delete_simple(repository=w["repo"], artifact_ids=[w["index"].pk, w["referred"].pk])
    assert left == set()
    artifact_delete(artifact=w["index"])  # the index and its unshared child
    artifact_delete(artifact=w["referred"])  # the artifact and its signature
    assert not Artifact.objects.filter(pk__in=[w["index"].pk, w["child"].pk, w["referred"].pk]).exists()


def test_a_batch_costs_the_same_queries_whatever_its_size(world, django_assert_max_num_queries):
    repo = world["repo"]
    many = [builders.image(repo, tag=f"bulk-{n}", seed=f"bulk {n}") for n in range(40)]
    with django_assert_max_num_queries(20):
        deleted = artifacts_delete_simple(repository=repo, artifact_ids=[a.pk for a in many])
    assert deleted == {a.pk for a in many}
