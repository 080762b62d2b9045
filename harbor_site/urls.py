from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("", include("registry.oci.urls")),
    path("api/v2.0/", include("harbor_site.api_urls")),
    path("admin/", admin.site.urls),
    # The operator console's assets; behind a proxy in production, served here by default.
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}),
]
