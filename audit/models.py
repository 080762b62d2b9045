"""The audit log: one append-only row per audited operation."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class AppendOnly(Exception):
    """An attempt to change or delete an audit record outside the retention purge."""


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):  # noqa: ANN003, ANN201
        raise AppendOnly("audit records are never updated")

    def delete(self):  # noqa: ANN201
        raise AppendOnly("audit records are removed only by the retention purge (audit.services.audit_purge)")

    def purge(self) -> int:
        """Delete the selected rows without loading them (the retention purge's only way out)."""
        return self._raw_delete(self.db)


class AuditLog(models.Model):
    """Who did what to which resource, from where, when, and whether it succeeded (Harbor's AuditLogExt)."""

    op_time = models.DateTimeField(default=timezone.now, db_index=True)
    username = models.CharField(max_length=255, db_index=True)  # user name, robot full name, anonymous or system
    is_robot = models.BooleanField(default=False)
    source_ip = models.CharField(max_length=64, blank=True, default="")
    # Plain ids and names, not foreign keys: the record outlives the project or user it names.
    project_id = models.BigIntegerField(null=True, blank=True)
    resource_type = models.CharField(max_length=64, db_index=True)
    resource = models.CharField(max_length=1024)
    operation = models.CharField(max_length=32, db_index=True)
    operation_description = models.TextField(blank=True, default="")
    operation_result = models.BooleanField(default=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-op_time", "-id"]
        indexes = [models.Index(fields=["project_id", "-op_time"], name="audit_project_time")]

    def __str__(self) -> str:
        return f"{self.op_time:%Y-%m-%d %H:%M:%S} {self.username} {self.operation} {self.resource_type} {self.resource}"

    def save(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        if not self._state.adding:
            raise AppendOnly("audit records are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AppendOnly("audit records are removed only by the retention purge")

    @property
    def event_type(self) -> str:
        """Harbor's event type name, e.g. `create_artifact`."""
        return f"{self.operation}_{self.resource_type}"
