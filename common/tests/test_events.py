"""The event dispatcher: after commit only, every subscriber, failures contained."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from common.events import (
    ARTIFACT_PUSHED,
    TAG_DELETED,
    Event,
    event_dispatch,
    event_publish,
    event_subscribe,
    event_unsubscribe,
    events_captured,
)


def _event(kind: str = ARTIFACT_PUSHED) -> Event:
    return Event(type=kind, project_id=1, operator="alice", data={"digest": "sha256:" + "0" * 64})


def test_unknown_types_are_refused():
    with pytest.raises(ValueError, match="unknown event type"):
        Event(type="artifact.teleported", project_id=None, operator="x")
    with pytest.raises(ValueError, match="unknown event type"):
        event_subscribe("artifact.teleported", print)


@pytest.mark.django_db(transaction=True)
def test_published_in_a_transaction_means_delivered_after_commit():
    with events_captured(ARTIFACT_PUSHED) as seen:
        with transaction.atomic():
            event_publish(_event())
            assert seen == []  # nothing before the commit
        assert [e.type for e in seen] == [ARTIFACT_PUSHED]


def _failing_operation() -> None:
    with transaction.atomic():
        event_publish(_event())
        raise RuntimeError("the operation failed")


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_operation_never_notifies():
    with events_captured() as seen:
        with pytest.raises(RuntimeError):
            _failing_operation()
        assert seen == []


def test_only_subscribers_of_the_type_are_called():
    with events_captured(TAG_DELETED) as tags, events_captured(ARTIFACT_PUSHED) as pushes:
        event_dispatch(_event(TAG_DELETED))
    assert len(tags) == 1
    assert pushes == []


def test_a_failing_subscriber_is_logged_and_the_others_still_run(caplog):
    calls: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    def working(event: Event) -> None:
        calls.append(event.operator)

    event_subscribe(ARTIFACT_PUSHED, broken)
    event_subscribe(ARTIFACT_PUSHED, working)
    event_subscribe(ARTIFACT_PUSHED, working)  # registering twice calls it once
    try:
        with caplog.at_level(logging.ERROR, logger="common.events"):
            event_dispatch(_event())
    finally:
        event_unsubscribe(ARTIFACT_PUSHED, broken)
        event_unsubscribe(ARTIFACT_PUSHED, working)
    assert calls == ["alice"]
    assert "event subscriber" in caplog.text
    assert "subscriber bug" in caplog.text
