"""`/api/v2.0/`: each app contributes its routes; the OpenAPI document and Swagger UI live here."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("projects.api.urls")),
    path("", include("registry.api.urls")),
    path("", include("common.api.urls")),
    path("openapi.json", SpectacularAPIView.as_view(), name="openapi"),
    path("swagger-ui/", SpectacularSwaggerView.as_view(url_name="openapi"), name="swagger-ui"),
]
