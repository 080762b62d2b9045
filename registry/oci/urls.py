from django.urls import re_path

from registry.oci import views
from registry.oci.token import TokenView

# Names contain slashes: each route matches the longest name before its fixed suffix.
urlpatterns = [
    re_path(r"^v2/?$", views.ApiVersionView.as_view()),
    re_path(r"^v2/_catalog$", views.CatalogView.as_view()),
    re_path(r"^v2/(?P<name>.+)/tags/list$", views.TagsListView.as_view()),
    re_path(r"^v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$", views.ManifestView.as_view()),
    re_path(r"^v2/(?P<name>.+)/blobs/uploads/?$", views.UploadStartView.as_view()),
    re_path(r"^v2/(?P<name>.+)/blobs/uploads/(?P<upload_id>[^/]+)$", views.UploadView.as_view()),
    re_path(r"^v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$", views.BlobView.as_view()),
    re_path(r"^v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$", views.ReferrersView.as_view()),
    re_path(r"^v2/.*$", views.NotFoundView.as_view()),
    re_path(r"^service/token/?$", TokenView.as_view()),
]
