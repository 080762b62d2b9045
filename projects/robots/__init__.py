"""Robot accounts v2: `catalogue` (pure: names, secrets, the grantable permission catalogue, grants),
`selectors` (permission-scoped reads) and `services` (writes, bounded by what the actor holds).

Import the submodules directly; this package imports nothing so `projects.permissions` can use
`projects.robots.catalogue` without an import cycle.
"""
