"""Harbor v2.0 JSON shapes of webhook policies and their deliveries (field names as in the swagger)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import WebhookPolicy
from audit.webhooks.services import AUTH_HEADER_MASK
from common.models import Execution, ExecutionStatus, Task

# Harbor's job statuses; ours say Succeeded where Harbor's jobservice says Success.
HARBOR_STATUS = {ExecutionStatus.SUCCEEDED: "Success"}


class WebhookTargetSerializer(serializers.Serializer):
    """Harbor's WebhookTargetObject (on output the auth header is masked, never returned in clear)."""

    type = serializers.CharField(required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True)
    auth_header = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    skip_cert_verify = serializers.BooleanField(required=False)
    payload_format = serializers.CharField(required=False, allow_blank=True)


class WebhookPolicySerializer(serializers.Serializer):
    """Harbor's WebhookPolicy. On input id, project_id, creator and the times are ignored."""

    id = serializers.IntegerField(source="pk", read_only=True)
    name = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    project_id = serializers.IntegerField(read_only=True)
    targets = serializers.SerializerMethodField()
    event_types = serializers.ListField(child=serializers.CharField(), required=False)
    creator = serializers.CharField(read_only=True)
    creation_time = serializers.DateTimeField(read_only=True)
    update_time = serializers.DateTimeField(read_only=True)
    enabled = serializers.BooleanField(required=False)

    @extend_schema_field(WebhookTargetSerializer(many=True))
    def get_targets(self, policy: WebhookPolicy) -> list[dict]:
        return [
            {
                "type": target["type"],
                "address": target["address"],
                **({"auth_header": AUTH_HEADER_MASK} if target.get("auth_header") else {}),
                "skip_cert_verify": target["skip_cert_verify"],
                "payload_format": target["payload_format"],
            }
            for target in policy.targets
        ]


class WebhookPolicyInputSerializer(WebhookPolicySerializer):
    """The request body: targets are read as objects (validated further by the service)."""

    targets = WebhookTargetSerializer(many=True, required=False)


class WebhookPolicyCreatedSerializer(serializers.Serializer):
    """Ours (Harbor's 201 has no body): the new policy's id and its signing secret, shown this once."""

    id = serializers.IntegerField()
    signing_secret = serializers.CharField()


class WebhookMetricsSerializer(serializers.Serializer):
    """Harbor's Metrics of an execution (counted by the list query)."""

    task_count = serializers.IntegerField()
    success_task_count = serializers.IntegerField()
    error_task_count = serializers.IntegerField()
    pending_task_count = serializers.IntegerField()
    running_task_count = serializers.IntegerField()
    scheduled_task_count = serializers.IntegerField()
    stopped_task_count = serializers.IntegerField()


class WebhookExecutionSerializer(serializers.Serializer):
    """Harbor's Execution, for one event delivered by one policy."""

    id = serializers.IntegerField(source="pk")
    vendor_type = serializers.CharField(source="kind")
    vendor_id = serializers.IntegerField()
    status = serializers.SerializerMethodField()
    status_message = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()
    trigger = serializers.CharField()
    extra_attrs = serializers.DictField(source="parameters")
    start_time = serializers.DateTimeField(source="started")
    end_time = serializers.DateTimeField(source="ended", allow_null=True)

    def get_status(self, execution: Execution) -> str:
        return HARBOR_STATUS.get(execution.status, execution.status)

    def get_status_message(self, execution: Execution) -> str:
        return ""

    @extend_schema_field(WebhookMetricsSerializer)
    def get_metrics(self, execution: Execution) -> dict:
        names = [name for name in WebhookMetricsSerializer().fields if name != "scheduled_task_count"]
        return {"scheduled_task_count": 0, **{name: getattr(execution, name, 0) for name in names}}


class WebhookTaskSerializer(serializers.Serializer):
    """Harbor's Task: one target of one delivery (run_count: attempts so far)."""

    id = serializers.IntegerField(source="pk")
    execution_id = serializers.IntegerField()
    status = serializers.SerializerMethodField()
    status_message = serializers.SerializerMethodField()
    run_count = serializers.SerializerMethodField()
    extra_attrs = serializers.SerializerMethodField()
    creation_time = serializers.SerializerMethodField()
    update_time = serializers.SerializerMethodField()
    start_time = serializers.DateTimeField(source="started", allow_null=True)
    end_time = serializers.DateTimeField(source="ended", allow_null=True)

    def _delivery(self, task: Task):  # noqa: ANN202
        return getattr(task, "webhook_delivery", None)

    def get_status(self, task: Task) -> str:
        return HARBOR_STATUS.get(task.status, task.status)

    def get_status_message(self, task: Task) -> str:
        lines = task.log.strip().splitlines()
        return lines[-1] if lines and task.status == ExecutionStatus.FAILED else ""

    def get_run_count(self, task: Task) -> int:
        delivery = self._delivery(task)
        return delivery.attempts if delivery else 0

    @extend_schema_field(serializers.DictField())
    def get_extra_attrs(self, task: Task) -> dict:
        delivery = self._delivery(task)
        if delivery is None:
            return {}
        return {
            "address": delivery.address,
            "event_type": delivery.event_type,
            "payload_format": delivery.payload_format,
            "last_status_code": delivery.last_status_code,
        }

    @extend_schema_field(serializers.DateTimeField())
    def get_creation_time(self, task: Task):  # noqa: ANN201
        delivery = self._delivery(task)
        return serializers.DateTimeField().to_representation(delivery.created) if delivery else None

    @extend_schema_field(serializers.DateTimeField())
    def get_update_time(self, task: Task):  # noqa: ANN201
        moment = task.ended or task.started
        return serializers.DateTimeField().to_representation(moment) if moment else None


class WebhookLastTriggerSerializer(serializers.Serializer):
    """Harbor's WebhookLastTrigger."""

    policy_name = serializers.CharField()
    event_type = serializers.CharField()
    enabled = serializers.BooleanField()
    creation_time = serializers.DateTimeField()
    last_trigger_time = serializers.DateTimeField(required=False)  # left out when never triggered

    def to_representation(self, instance: dict) -> dict:
        # Harbor's date-time is not nullable: a policy never triggered has no last_trigger_time.
        return {k: v for k, v in super().to_representation(instance).items() if k != "last_trigger_time" or v}


class WebhookPayloadFormatSerializer(serializers.Serializer):
    """Harbor's PayloadFormat."""

    notify_type = serializers.CharField()
    formats = serializers.ListField(child=serializers.CharField())


class SupportedWebhookEventTypesSerializer(serializers.Serializer):
    """Harbor's SupportedWebhookEventTypes."""

    event_type = serializers.ListField(child=serializers.CharField())
    notify_type = serializers.ListField(child=serializers.CharField())
    payload_formats = WebhookPayloadFormatSerializer(many=True)
