"""Routes for project members and project metadata."""

from django.urls import path

from projects.api.members import ProjectMemberViewSet, ProjectMetadataViewSet

members = ProjectMemberViewSet.as_view({"get": "list", "post": "create"})
member = ProjectMemberViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"})
metadatas = ProjectMetadataViewSet.as_view({"get": "list", "post": "create"})
metadata = ProjectMetadataViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"})

urlpatterns = [
    path("projects/<str:project_name_or_id>/members", members, name="project-members"),
    path("projects/<str:project_name_or_id>/members/<str:mid>", member, name="project-member"),
    # Harbor's swagger spells the collection with a trailing slash; accept it without one too.
    path("projects/<str:project_name_or_id>/metadatas/", metadatas, name="project-metadatas"),
    path("projects/<str:project_name_or_id>/metadatas", metadatas),
    path("projects/<str:project_name_or_id>/metadatas/<str:meta_name>", metadata, name="project-metadata"),
]
