"""The audit log: one append-only row per audited operation."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from common.crypto import EncryptedJSONField, EncryptedTextField


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


class PayloadFormat(models.TextChoices):
    DEFAULT = "Default"
    CLOUD_EVENTS = "CloudEvents"


class WebhookPolicy(models.Model):
    """A project's webhook: which event types go to which targets (Harbor's WebhookPolicy).

    `targets` is a list of {type, address, auth_header, skip_cert_verify, payload_format}, stored
    encrypted as a whole (auth headers are credentials, and Slack-style addresses embed tokens);
    `signing_secret` keys the HMAC of every delivery and is shown once, on creation.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="webhook_policies")
    name = models.CharField(max_length=256)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    event_types = models.JSONField(default=list)
    targets = EncryptedJSONField(default=list)
    signing_secret = EncryptedTextField(blank=True, default="")
    creator = models.CharField(max_length=255, blank=True, default="")
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-creation_time", "-id"]
        verbose_name_plural = "webhook policies"
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="webhook_policy_name_per_project")]

    def __str__(self) -> str:
        return f"{self.name} (project {self.project_id})"


class WebhookDelivery(models.Model):
    """The body sent to one target for one event: the detail behind a webhook Task (retries, redelivery)."""

    task = models.OneToOneField("common.Task", on_delete=models.CASCADE, related_name="webhook_delivery")
    policy = models.ForeignKey(WebhookPolicy, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=64)
    address = models.CharField(max_length=2048)  # matched against the policy's targets when sending
    payload_format = models.CharField(max_length=16, choices=PayloadFormat.choices, default=PayloadFormat.DEFAULT)
    payload = models.TextField()  # the exact JSON body, so a redelivery sends the same bytes
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.address}"
