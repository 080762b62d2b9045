"""Users in every project role of the private project `lib` (the registry API tests' fixtures)."""

from registry.tests.api.conftest import lib, users  # noqa: F401 - fixtures
