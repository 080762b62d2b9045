"""Configuration is cached per process: every test starts and ends without a snapshot, so a
setting written inside one test's (rolled back) transaction never leaks into the next."""

import pytest

from common.configuration import config_cache_clear


@pytest.fixture(autouse=True)
def _fresh_configuration_cache():
    config_cache_clear()
    yield
    config_cache_clear()
