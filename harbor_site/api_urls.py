"""`/api/v2.0/`: each app contributes its routes; the OpenAPI document and Swagger UI live here."""

from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("projects.api.urls")),
    path("", include("registry.api.urls")),
    path("", include("system.api.urls")),
    path("", include("policies.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("audit.api.webhook_urls")),
    # Ours, not Harbor's: public, and left out of the document they serve (SERVE_INCLUDE_SCHEMA, prefix hook).
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("swagger-ui/", SpectacularSwaggerView.as_view(url_name="openapi"), name="swagger-ui"),
]
