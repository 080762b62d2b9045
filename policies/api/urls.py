"""Routes of the policies app under /api/v2.0/."""

from django.urls import path

from policies.api import retention
from policies.api.views import ImmutableRuleViewSet

rules = ImmutableRuleViewSet.as_view({"get": "list", "post": "create"})
rule = ImmutableRuleViewSet.as_view({"put": "update", "delete": "destroy"})

urlpatterns = [
    path("projects/<str:project_name_or_id>/immutabletagrules", rules, name="immutable-rules"),
    path("projects/<str:project_name_or_id>/immutabletagrules/<str:immutable_rule_id>", rule, name="immutable-rule"),
    path("retentions/metadatas", retention.RetentionMetadataView.as_view(), name="retention-metadatas"),
    path("retentions", retention.RetentionCreateView.as_view(), name="retentions"),
    path("retentions/<str:id>", retention.RetentionView.as_view(), name="retention"),
    path("retentions/<str:id>/executions", retention.RetentionExecutionsView.as_view(), name="retention-executions"),
    path(
        "retentions/<str:id>/executions/<str:eid>",
        retention.RetentionExecutionView.as_view(),
        name="retention-execution",
    ),
    path(
        "retentions/<str:id>/executions/<str:eid>/tasks",
        retention.RetentionTasksView.as_view(),
        name="retention-tasks",
    ),
    path(
        "retentions/<str:id>/executions/<str:eid>/tasks/<str:tid>",
        retention.RetentionTaskLogView.as_view(),
        name="retention-task-log",
    ),
]
