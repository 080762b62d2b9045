"""Two pushes racing to create the same immutable tag: exactly one wins, the other is refused."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from policies.services import immutability_rule_create
from projects.services import project_create
from registry.errors import TagImmutable
from registry.models import Tag
from registry.tests.api import builders

ROUNDS = 25


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_pushes_of_an_immutable_tag_never_move_it():
    project = project_create(name="lib", public=False)
    immutability_rule_create(
        project=project,
        scope_selectors={"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}],
    )
    repo = builders.repository("lib/app")
    for round_no in range(ROUNDS):
        tag = f"release-{round_no}"
        barrier = threading.Barrier(2)
        outcomes: dict[int, object] = {}

        def push(index: int, tag: str = tag, barrier: threading.Barrier = barrier, outcomes: dict = outcomes) -> None:
            try:
                barrier.wait()
                outcomes[index] = builders.image(repo, tag=tag, seed=f"{tag}-{index}").digest
            except TagImmutable as exc:
                outcomes[index] = exc
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcomes[index] = repr(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=push, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        won = [value for value in outcomes.values() if isinstance(value, str) and value.startswith("sha256:")]
        refused = [value for value in outcomes.values() if isinstance(value, TagImmutable)]
        assert len(won) == 1, (tag, outcomes)
        assert len(refused) == 1, (tag, outcomes)
        assert Tag.objects.get(repository=repo, name=tag).artifact.digest == won[0]
