"""Suite-wide test setup: e2e marking and per-process caches reset around every test."""

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _no_pull_flusher(monkeypatch):
    """Tests flush pulls by hand (like Celery tasks, called directly): the background flusher would
    commit audit rows from its own connection, outside the test's transaction, into later tests."""
    from registry import pulls

    monkeypatch.setattr(pulls, "_ensure_flusher", lambda: None)


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Configuration snapshots and remembered Basic credentials live per process; a value cached
    inside one test's rolled-back transaction must not leak into the next (nor skew query budgets)."""
    from audit.subscribers import pull_policies_forget
    from common.configuration import config_cache_clear
    from policies.selectors import project_rules_forget
    from projects.authentication import basic_cache_clear
    from registry.pulls import pulls_discard

    config_cache_clear()
    basic_cache_clear()
    pull_policies_forget()
    project_rules_forget()
    yield
    config_cache_clear()
    basic_cache_clear()
    pull_policies_forget()
    project_rules_forget()
    pulls_discard()  # pull counts of rows that only existed in this test's transaction
