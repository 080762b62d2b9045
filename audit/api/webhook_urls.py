"""Routes of webhook policies and deliveries under /api/v2.0/projects/{project_name_or_id}/webhook/."""

from django.urls import path

from audit.api.webhooks import (
    WebhookEventTypesView,
    WebhookExecutionViewSet,
    WebhookLastTriggerView,
    WebhookPolicyViewSet,
    WebhookTaskLogView,
    WebhookTaskRedeliverView,
    WebhookTaskViewSet,
)

PREFIX = "projects/<str:project_name_or_id>/webhook"
POLICY = f"{PREFIX}/policies/<str:webhook_policy_id>"
EXECUTION = f"{POLICY}/executions/<str:execution_id>"

policies = WebhookPolicyViewSet.as_view({"get": "list", "post": "create"})
policy = WebhookPolicyViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"})

urlpatterns = [
    path(f"{PREFIX}/policies", policies, name="webhook-policies"),
    path(POLICY, policy, name="webhook-policy"),
    path(f"{POLICY}/executions", WebhookExecutionViewSet.as_view({"get": "list"}), name="webhook-executions"),
    path(f"{EXECUTION}/tasks", WebhookTaskViewSet.as_view({"get": "list"}), name="webhook-tasks"),
    path(f"{EXECUTION}/tasks/<str:task_id>/log", WebhookTaskLogView.as_view(), name="webhook-task-log"),
    # Ours, not Harbor's (Harbor has no redelivery route).
    path(f"{EXECUTION}/tasks/<str:task_id>/redeliver", WebhookTaskRedeliverView.as_view(), name="webhook-redeliver"),
    path(f"{PREFIX}/lasttrigger", WebhookLastTriggerView.as_view(), name="webhook-lasttrigger"),
    path(f"{PREFIX}/events", WebhookEventTypesView.as_view(), name="webhook-events"),
]
