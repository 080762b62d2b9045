"""Project names: one component of the distribution-spec repository name grammar (pure, no ORM).

A project is the first component of every repository name (`project/repo`), so the registry's
name grammar (`registry/names.py`) is built on this one.
"""

from __future__ import annotations

import re

# dist-spec: a path component of <name> is [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_COMPONENT_RE = re.compile(rf"^{COMPONENT}$")
# Harbor keeps repository names to 255 characters (the spec suggests clients keep host+name under 255).
MAX_NAME_LENGTH = 255


def is_valid_project_name(value: str) -> bool:
    return bool(value) and len(value) <= MAX_NAME_LENGTH and bool(_COMPONENT_RE.fullmatch(value))
