"""Routes for robot accounts v2 (`/robots`) and the robot permission catalogue (`/permissions`)."""

from django.urls import path

from projects.api.robots import PermissionsView, RobotViewSet

robots = RobotViewSet.as_view({"get": "list", "post": "create"})
robot = RobotViewSet.as_view({"get": "retrieve", "put": "update", "patch": "refresh", "delete": "destroy"})

urlpatterns = [
    path("robots", robots, name="robots"),
    path("robots/<str:robot_id>", robot, name="robot"),
    path("permissions", PermissionsView.as_view(), name="permissions"),
]
