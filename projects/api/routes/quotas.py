"""Routes for quotas."""

from django.urls import path

from projects.api.quotas import QuotaViewSet

urlpatterns = [
    path("quotas", QuotaViewSet.as_view({"get": "list"}), name="quotas"),
    path("quotas/<str:id>", QuotaViewSet.as_view({"get": "retrieve", "put": "update"}), name="quota"),
]
