from django.urls import include, path

from projects.api.views import ProjectViewSet

projects = ProjectViewSet.as_view({"get": "list", "post": "create", "head": "head"})
project = ProjectViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"})

urlpatterns = [
    path("projects", projects, name="projects"),
    path("projects/<str:project_name_or_id>", project, name="project"),
    path("projects/<str:project_name_or_id>/_deletable", ProjectViewSet.as_view({"get": "deletable"})),
    path("projects/<str:project_name_or_id>/summary", ProjectViewSet.as_view({"get": "summary"})),
    path("", include("projects.api.routes.users")),
    path("", include("projects.api.routes.robots")),
    path("", include("projects.api.routes.members")),
    path("", include("projects.api.routes.quotas")),
]
