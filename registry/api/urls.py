"""Routes for repositories, artifacts, tags, accessories, additions and labels (Harbor paths, no trailing slash).

`repository_name` is one path segment: clients encode the slashes of `a/b` twice (`a%252Fb`).
"""

from django.urls import path, re_path, register_converter

from common.api.params import Int64Converter
from registry.api import gc
from registry.api.artifacts import AccessoryViewSet, AdditionViewSet, ArtifactLabelViewSet, ArtifactViewSet
from registry.api.labels import LabelViewSet
from registry.api.repositories import AllRepositoriesViewSet, RepositoryViewSet
from registry.api.tags import TagViewSet

register_converter(Int64Converter, "id")

REPOSITORY = "projects/<str:project_name>/repositories/<str:repository_name>"
ARTIFACT = f"{REPOSITORY}/artifacts/<str:reference>"

urlpatterns = [
    path("repositories", AllRepositoriesViewSet.as_view({"get": "list"}), name="repositories"),
    path("projects/<str:project_name>/repositories", RepositoryViewSet.as_view({"get": "list"})),
    path(REPOSITORY, RepositoryViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"})),
    path(f"{REPOSITORY}/artifacts", ArtifactViewSet.as_view({"get": "list", "post": "copy"})),
    path(ARTIFACT, ArtifactViewSet.as_view({"get": "retrieve", "delete": "destroy"})),
    path(f"{ARTIFACT}/tags", TagViewSet.as_view({"get": "list", "post": "create"})),
    path(f"{ARTIFACT}/tags/<str:tag_name>", TagViewSet.as_view({"delete": "destroy"})),
    path(f"{ARTIFACT}/accessories", AccessoryViewSet.as_view({"get": "list"})),
    # additions/vulnerabilities is the scanning API's (getVulnerabilitiesAddition), not this route's.
    re_path(
        r"^projects/(?P<project_name>[^/]+)/repositories/(?P<repository_name>[^/]+)/artifacts/(?P<reference>[^/]+)"
        r"/additions/(?P<addition>(?!vulnerabilities$)[^/]+)$",
        AdditionViewSet.as_view({"get": "retrieve"}),
    ),
    path(f"{ARTIFACT}/labels", ArtifactLabelViewSet.as_view({"post": "create"})),
    path(f"{ARTIFACT}/labels/<id:label_id>", ArtifactLabelViewSet.as_view({"delete": "destroy"})),
    path("labels", LabelViewSet.as_view({"get": "list", "post": "create"})),
    path("labels/<id:label_id>", LabelViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"})),
    path("system/gc", gc.GCHistoryView.as_view(), name="gc-history"),
    path("system/gc/schedule", gc.GCScheduleView.as_view(), name="gc-schedule"),
    path("system/gc/<id:gc_id>", gc.GCView.as_view(), name="gc"),
    path("system/gc/<id:gc_id>/log", gc.GCLogView.as_view(), name="gc-log"),
]
