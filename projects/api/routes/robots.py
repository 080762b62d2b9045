"""Routes for robots (filled in by the robots API)."""

urlpatterns: list = []
