"""Routes (filled in by the audit/webhook work)."""

urlpatterns: list = []
