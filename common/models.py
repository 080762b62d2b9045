"""Shared base models and the Execution/Task rows every long-running job writes."""

from __future__ import annotations

from django.db import models


class TimeStampedModel(models.Model):
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ExecutionStatus(models.TextChoices):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Error"
    STOPPED = "Stopped"


class Execution(models.Model):
    """One run of a job (purge, GC, retention, replication...): status, counts and log."""

    kind = models.CharField(max_length=64, db_index=True)
    # The policy (webhook, retention, replication...) this run belongs to, when it belongs to one.
    vendor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    trigger = models.CharField(max_length=16, default="MANUAL")  # MANUAL, SCHEDULE, EVENT
    parameters = models.JSONField(default=dict, blank=True)
    operator = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING)
    dry_run = models.BooleanField(default=False)
    started = models.DateTimeField(auto_now_add=True, db_index=True)
    ended = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)
    counts = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started"]
        indexes = [models.Index(fields=["kind", "vendor_id", "-started"], name="execution_kind_vendor")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} {self.status}"


class Task(models.Model):
    """A unit of an execution (one repository, one policy target...)."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING)
    started = models.DateTimeField(null=True, blank=True)
    ended = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"{self.name} {self.status}"


class Setting(models.Model):
    """One system configuration value (Harbor's /configurations), read through common.configuration."""

    key = models.CharField(max_length=128, unique=True)
    value = models.JSONField()
    # Set by config_update, strictly increasing across writes: processes compare MAX(updated)
    # to know when their cached copy is stale.
    updated = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}={self.value!r}"
