"""Routes for quotas (filled in by the quotas API)."""

urlpatterns: list = []
