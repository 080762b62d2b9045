"""Gates: what policy apps say before the registry serves a pull, accepts a push or deletes.

The registry asks without knowing who answers, as it publishes events (`common/events.py`): a
policy app registers a gate in its `AppConfig.ready()` with `gate_register`, and the registry's
pull (`/v2/` manifest GET), push (`/v2/` manifest PUT, the API's copy) and delete paths (`/v2/`,
API, admin, retention) ask the gates registered for that action, in registration order.

A gate answers two things:
- `held(request)`: the tags among `request.tags` it holds for the action. On a push, a held tag
  may be created but never moved (the registry creates it race-safely); on a delete, it stays.
  Set-wise callers (retention, the API's `immutable` flags) ask only this (`gates_held`).
- `check(request)`: refuse by raising `GateRefusal` with the gate's reason, else return the tags
  it holds. By default a pull or delete is refused when the gate holds one of its tags, and a push
  is not (the registry refuses moving a held tag itself; a gate may refuse earlier, with its reason).
A refusal is a registry error: `/v2/` answers the OCI envelope (`DENIED`, 412) with the gate's
reason as message and detail; the API's services turn it into Harbor's 412 `PRECONDITION` with the
same message (`registry/services/artifacts.py`).

With no gate registered for an action, asking costs nothing: no query, no actor lookup. A gate's
own cost is its business: one with nothing enabled for the project should cost no query. The
manifest push asks inside its transaction and passes the project's policy revision
(`GateRequest.policy_revision`, which every policy write bumps: projects.services.project_policies_changed),
so a gate can answer from a per-process cache that is never stale.
Exemptions are by principal (`request.actor`: the user or robot acting), never by User-Agent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from common.actor import Actor, actor_current
from registry.errors import GateRefusal

PULL = "pull"
PUSH = "push"
DELETE = "delete"
ACTIONS = (PULL, PUSH, DELETE)


@dataclass(frozen=True, slots=True)
class GateRequest:
    """What the registry is about to do, as plain values (a gate may run before any row is locked)."""

    action: str  # PULL, PUSH or DELETE
    project_id: int
    repository_name: str  # the full name, `project/repo`
    tags: frozenset[str] = frozenset()  # push: the tags pointed at `digest`; delete: the tags going away
    digest: str = ""  # the artifact pulled, pushed or deleted, when known
    operation: str = ""  # the caller's words for it, for a refusal: "delete sha256:...", "overwrite tags"
    actor: Actor = field(default_factory=actor_current)  # who asks
    # The project's policy revision (`Project.policy_revision`) as read in the caller's transaction,
    # under a lock that orders it with policy writes (the /v2/ manifest push); None when not read.
    # A gate may answer from a per-process cache keyed on it: 0 means no policy was ever written.
    policy_revision: int | None = None


class Gate:
    """A policy the registry asks; subclass, override `held` (and `check` for more than "a held tag refuses")."""

    name = "gate"

    def held(self, request: GateRequest) -> frozenset[str]:
        """The tags among `request.tags` this gate holds for `request.action`."""
        return frozenset()

    def check(self, request: GateRequest) -> frozenset[str]:
        """Raise GateRefusal to refuse the operation; otherwise return the tags held (see `held`)."""
        held = self.held(request)
        if held and request.action != PUSH:
            first = min(held)
            raise GateRefusal(
                f"{self.name}: cannot {request.operation or request.action}: tag {first} is held in "
                f"{request.repository_name}",
                detail={"tag": first},
            )
        return held

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


_gates: dict[str, tuple[Gate, ...]] = {action: () for action in ACTIONS}
_lock = threading.Lock()


def _actions(actions: Iterable[str]) -> tuple[str, ...]:
    actions = tuple(actions)
    unknown = sorted(set(actions) - set(ACTIONS))
    if unknown or not actions:
        raise ValueError(f"gate actions must be among {', '.join(ACTIONS)}, got {actions!r}")
    return actions


def gate_register(*, gate: Gate, actions: Iterable[str]) -> None:
    """Ask `gate` on these actions, after the gates registered before it (idempotent; from `AppConfig.ready()`)."""
    with _lock:
        for action in _actions(actions):
            if gate not in _gates[action]:
                _gates[action] = (*_gates[action], gate)


def gate_unregister(*, gate: Gate, actions: Iterable[str] = ACTIONS) -> None:
    """Stop asking `gate` on these actions (tests)."""
    with _lock:
        for action in _actions(actions):
            _gates[action] = tuple(g for g in _gates[action] if g is not gate)


def gates_for(action: str) -> tuple[Gate, ...]:
    """The gates asked on `action`, in order."""
    return _gates[action]


@contextmanager
def gates_replaced(*registrations: tuple[Gate, Iterable[str]]) -> Iterator[None]:
    """Inside the block, only these (gate, actions) are registered (tests: no gate, or a stand-in policy)."""
    global _gates
    with _lock:
        saved = _gates
        _gates = {action: () for action in ACTIONS}
    try:
        for gate, actions in registrations:
            gate_register(gate=gate, actions=actions)
        yield
    finally:
        with _lock:
            _gates = saved


def gates_check(
    *,
    action: str,
    project_id: int,
    repository_name: str,
    tags: Iterable[str] = (),
    digest: str = "",
    operation: str = "",
    policy_revision: int | None = None,
) -> frozenset[str]:
    """Ask every gate of `action` in order; the first refusal (GateRefusal) propagates. Returns the tags held."""
    gates = _gates[action]
    if not gates:
        return frozenset()
    request = GateRequest(
        action=action,
        project_id=project_id,
        repository_name=repository_name,
        tags=frozenset(tags),
        digest=digest,
        operation=operation,
        policy_revision=policy_revision,
    )
    held: frozenset[str] = frozenset()
    for gate in gates:
        held |= gate.check(request)
    return held


def gates_held(*, action: str, project_id: int, repository_name: str, tags: Iterable[str]) -> frozenset[str]:
    """The tags among `tags` some gate of `action` holds, without refusing anything (nothing asked for no tags)."""
    gates = _gates[action]
    tags = frozenset(tags)
    if not gates or not tags:
        return frozenset()
    request = GateRequest(action=action, project_id=project_id, repository_name=repository_name, tags=tags)
    held: frozenset[str] = frozenset()
    for gate in gates:
        held |= gate.held(request)
    return held
