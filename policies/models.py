"""Tag immutability rules of a project (Harbor's immutable tag rules)."""

from __future__ import annotations

from django.db import models

from common.models import Execution, TimeStampedModel
from policies import rules
from projects.models import Project


class ImmutabilityRule(TimeStampedModel):
    """A project rule: tags admitted by all its repository and tag selectors can't be moved or deleted."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="immutability_rules")
    disabled = models.BooleanField(default=False)
    priority = models.IntegerField(default=0)
    action = models.CharField(max_length=32, default=rules.ACTION)
    template = models.CharField(max_length=64, default=rules.TEMPLATE)
    # {"repository": [{"kind": "doublestar", "decoration": "repoMatches"|"repoExcludes", "pattern": "..."}]}
    scope_selectors = models.JSONField(default=dict)
    # [{"kind": "doublestar", "decoration": "matches"|"excludes", "pattern": "..."}]
    tag_selectors = models.JSONField(default=list)

    class Meta:
        ordering = ["priority", "id"]
        indexes = [models.Index(fields=["project", "disabled"])]

    def __str__(self) -> str:
        return f"immutability rule {self.pk} of project {self.project_id}"

    def as_rule(self) -> rules.Rule:
        return rules.Rule.from_json(
            scope_selectors=self.scope_selectors, tag_selectors=self.tag_selectors, disabled=self.disabled
        )


class RetentionPolicy(TimeStampedModel):
    """A project's tag retention policy (Harbor's: one per project); its runs are common Execution rows."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="retention_policy")
    algorithm = models.CharField(max_length=16, default="or")
    # Harbor's rule JSON, normalised by policies.retention.rules.rules_validate (ids 1..n).
    rules = models.JSONField(default=list, blank=True)
    # {"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}} (cron "" or absent: manual runs only)
    trigger = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"retention policy {self.pk} of project {self.project_id}"

    @property
    def cron(self) -> str:
        return str((self.trigger.get("settings") or {}).get("cron") or "")


class RetentionExecution(Execution):
    """Executions of kind RETENTION, for the admin (a proxy: the rows are common Execution rows)."""

    class Meta:
        proxy = True
        verbose_name = "retention run"
