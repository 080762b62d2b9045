"""Tag immutability as a registry gate: a push may not move a protected tag, a delete may not remove one.

Registered for push and delete in `PoliciesConfig.ready()`; the registry asks it on every path
that moves or removes a tag (/v2/, the API, the admin, retention) without importing this app.
Cost: nothing for a request without tags; otherwise one query for the project's enabled rules
(none on the /v2/ push, which passes the project's policy revision: nothing for a project that never
had a rule, and the rules remembered per process for that revision otherwise), plus one for the tags
a push would move when a rule protects some.
"""

from __future__ import annotations

from policies.selectors import immutable_tags_in, project_rules
from registry.errors import TagImmutable
from registry.gates import PUSH, Gate, GateRequest
from registry.models import Tag


class ImmutabilityGate(Gate):
    name = "tag immutability"

    def held(self, request: GateRequest) -> frozenset[str]:
        """The request's tags an enabled immutability rule of the project protects."""
        if not request.tags:
            return frozenset()
        rules = project_rules(project_id=request.project_id, revision=request.policy_revision)
        if not rules:
            return frozenset()
        return frozenset(immutable_tags_in(rules=rules, repository_name=request.repository_name, names=request.tags))

    def check(self, request: GateRequest) -> frozenset[str]:
        """Push: refuse moving a protected tag to another digest (re-pushing it is fine). Delete: refuse any."""
        held = self.held(request)
        if not held:
            return held
        if request.action == PUSH:
            moving = sorted(
                Tag.objects.filter(repository__name=request.repository_name, name__in=held)
                .exclude(artifact__digest=request.digest)
                .values_list("name", flat=True)
            )
            if moving:
                raise TagImmutable(
                    f"the tag {moving[0]} is immutable and cannot be overwritten in {request.repository_name}",
                    detail={"tag": moving[0]},
                )
            return held
        first = min(held)
        raise TagImmutable(
            f"the tag {first} is immutable: cannot {request.operation} in {request.repository_name}",
            detail={"tag": first},
        )


IMMUTABILITY = ImmutabilityGate()
