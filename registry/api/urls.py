"""Routes for repositories, artifacts, tags, labels."""

urlpatterns: list = []
