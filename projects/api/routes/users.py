"""Routes for users (filled in by the users API)."""

urlpatterns: list = []
