"""Routes for `/users` and `/usergroups` (Harbor's paths: no trailing slash)."""

from django.urls import path

from projects.api.users.groups import UserGroupViewSet
from projects.api.users.views import UserViewSet

urlpatterns = [
    path("users", UserViewSet.as_view({"get": "list", "post": "create"}), name="users"),
    path("users/current", UserViewSet.as_view({"get": "current"}), name="user-current"),
    path("users/current/permissions", UserViewSet.as_view({"get": "current_permissions"})),
    path("users/search", UserViewSet.as_view({"get": "search"}), name="user-search"),
    path(
        "users/<str:user_id>",
        UserViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
        name="user",
    ),
    path("users/<str:user_id>/sysadmin", UserViewSet.as_view({"put": "sysadmin"})),
    path("users/<str:user_id>/password", UserViewSet.as_view({"put": "password"})),
    path("usergroups", UserGroupViewSet.as_view({"get": "list", "post": "create"}), name="usergroups"),
    path("usergroups/search", UserGroupViewSet.as_view({"get": "search"}), name="usergroup-search"),
    path(
        "usergroups/<str:group_id>",
        UserGroupViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
        name="usergroup",
    ),
]
