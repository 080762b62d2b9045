"""Docker token scopes (`type[(class)]:name:action,action`): pure parsing and matching."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    @classmethod
    def parse(cls, value: str) -> Scope | None:
        """Parse one scope; None when malformed. The name may itself contain colons (host:port)."""
        first, last = value.find(":"), value.rfind(":")
        if first <= 0 or last == first:
            return None
        resource_type, name, actions = value[:first], value[first + 1 : last], value[last + 1 :]
        if "(" in resource_type:  # `repository(plugin)`: the class doesn't change what is granted
            resource_type = resource_type.split("(", 1)[0]
        if not name or not resource_type:
            return None
        return cls(resource_type, name, frozenset(a for a in actions.split(",") if a))

    def claim(self) -> dict:
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


def scopes_parse(values: list[str]) -> list[Scope]:
    """Parse `scope` parameters (each may hold several space-separated scopes), merging duplicates."""
    merged: dict[tuple[str, str], set[str]] = {}
    for value in values:
        for item in value.split():
            scope = Scope.parse(item)
            if scope is not None:
                merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [Scope(t, n, frozenset(a)) for (t, n), a in merged.items()]


def access_allows(access: dict[tuple[str, str], frozenset[str]], resource_type: str, name: str, action: str) -> bool:
    """Does a token's access claim grant `action` on the resource?"""
    actions = access.get((resource_type, name))
    return actions is not None and (action in actions or "*" in actions)
