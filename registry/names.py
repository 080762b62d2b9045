"""Repository names and tags per the distribution-spec grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass

from projects.names import COMPONENT, MAX_NAME_LENGTH
from registry.errors import ManifestInvalid, NameInvalid

# dist-spec: <name> is [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
_NAME_RE = re.compile(rf"^{COMPONENT}(?:/{COMPONENT})*$")
_TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


@dataclass(frozen=True, slots=True)
class RepositoryName:
    """A validated repository name; the first component is the project."""

    full: str
    project: str

    @classmethod
    def parse(cls, value: str) -> RepositoryName:
        if not value or len(value) > MAX_NAME_LENGTH or not _NAME_RE.fullmatch(value):
            raise NameInvalid(f"invalid repository name {value[:300]!r}")
        project, _, rest = value.partition("/")
        if not rest:
            # Every repository lives in a project: `project/repo`, never a bare `repo`.
            raise NameInvalid(f"repository name {value!r} must be <project>/<repository>")
        return cls(value, project)

    def __str__(self) -> str:
        return self.full


def tag_validate(tag: str) -> str:
    """Return the tag if it matches the spec's tag grammar, else raise."""
    if not _TAG_RE.fullmatch(tag):
        raise ManifestInvalid(f"invalid tag {tag[:200]!r}")
    return tag
