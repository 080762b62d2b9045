"""Routes for members (filled in by the members API)."""

urlpatterns: list = []
