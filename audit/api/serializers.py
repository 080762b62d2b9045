"""Harbor v2.0 JSON shapes of the audit log and its purge (field names as in the swagger)."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.models import Execution, ExecutionStatus

PURGE_JOB_NAME = "PURGE_AUDIT_LOG"  # Harbor's vendor type of purge executions
# Harbor's job statuses; ours say Succeeded where Harbor's jobservice says Success.
HARBOR_STATUS = {ExecutionStatus.SUCCEEDED: "Success"}


class AuditLogSerializer(serializers.Serializer):
    """Harbor's AuditLog (the older listAuditLogs / getLogs)."""

    id = serializers.IntegerField(source="pk")
    username = serializers.CharField()
    resource = serializers.CharField()
    resource_type = serializers.CharField()
    operation = serializers.CharField()
    op_time = serializers.DateTimeField()


class AuditLogExtSerializer(AuditLogSerializer):
    """Harbor's AuditLogExt: AuditLog with the operation's description and result."""

    operation_description = serializers.CharField()
    operation_result = serializers.BooleanField()


class AuditLogEventTypeSerializer(serializers.Serializer):
    """Harbor's AuditLogEventType."""

    event_type = serializers.CharField()


class PurgeScheduleObjSerializer(serializers.Serializer):
    """Harbor's ScheduleObj."""

    type = serializers.ChoiceField(choices=["Hourly", "Daily", "Weekly", "Custom", "Manual", "None", "Schedule"])
    cron = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    next_scheduled_time = serializers.DateTimeField(required=False, read_only=True)


class PurgeScheduleSerializer(serializers.Serializer):
    """Harbor's Schedule (the body of createPurgeSchedule / updatePurgeSchedule)."""

    schedule = PurgeScheduleObjSerializer()
    parameters = serializers.DictField(required=False)


class PurgeExecHistorySerializer(serializers.Serializer):
    """Harbor's ExecHistory for one purge run."""

    id = serializers.IntegerField(source="pk")
    job_name = serializers.SerializerMethodField()
    job_kind = serializers.CharField(source="trigger")
    job_parameters = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()
    job_status = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField(source="started")
    update_time = serializers.DateTimeField(source="updated")

    def get_job_name(self, execution: Execution) -> str:
        return PURGE_JOB_NAME

    def get_job_parameters(self, execution: Execution) -> str:
        return json.dumps(execution.parameters, sort_keys=True)

    @extend_schema_field(PurgeScheduleObjSerializer)
    def get_schedule(self, execution: Execution) -> dict:
        # Harbor: the run's trigger, title-cased, as its schedule type (Manual, Schedule).
        return {"type": execution.trigger.title()}

    def get_job_status(self, execution: Execution) -> str:
        return HARBOR_STATUS.get(execution.status, execution.status)

    def get_deleted(self, execution: Execution) -> bool:
        return False


class PurgeScheduleHistorySerializer(serializers.Serializer):
    """Harbor's ExecHistory as getPurgeSchedule answers it: the schedule, its cron and parameters."""

    job_name = serializers.CharField()
    job_kind = serializers.CharField()
    job_parameters = serializers.CharField()
    schedule = PurgeScheduleObjSerializer()
    job_status = serializers.CharField()
    deleted = serializers.BooleanField()
    update_time = serializers.DateTimeField(allow_null=True)
