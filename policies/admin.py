"""Operator console for tag immutability rules; every write goes through policies.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from common.console import ServiceAdminMixin, ServiceForm
from policies import (
    admin_retention,  # noqa: F401 - registers the retention pages
    rules,
)
from policies.models import ImmutabilityRule
from policies.services import immutability_rule_create, immutability_rule_delete, immutability_rule_update

REPO_CHOICES = [(d, d) for d in sorted(rules.REPO_DECORATIONS)]
TAG_CHOICES = [(d, d) for d in sorted(rules.TAG_DECORATIONS)]


class ImmutabilityRuleForm(ServiceForm):
    """One repository selector and one tag selector, as Harbor's UI edits them."""

    repository_decoration = forms.ChoiceField(choices=REPO_CHOICES, initial="repoMatches")
    repository_pattern = forms.CharField(initial="**", strip=False, help_text="doublestar, without the project")
    tag_decoration = forms.ChoiceField(choices=TAG_CHOICES, initial="matches")
    tag_pattern = forms.CharField(initial="**", strip=False, help_text="doublestar: ** * ? [a-z] {a,b}")

    class Meta:
        model = ImmutabilityRule
        fields = ("project", "priority", "disabled")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            repo = (self.instance.scope_selectors.get(rules.REPOSITORY_SCOPE) or [{}])[0]
            tag = (self.instance.tag_selectors or [{}])[0]
            self.initial.update(
                repository_decoration=repo.get("decoration"),
                repository_pattern=repo.get("pattern"),
                tag_decoration=tag.get("decoration"),
                tag_pattern=tag.get("pattern"),
            )

    def submit(self) -> ImmutabilityRule:
        data = self.cleaned_data
        scope = {
            rules.REPOSITORY_SCOPE: [
                {"kind": rules.KIND, "decoration": data["repository_decoration"], "pattern": data["repository_pattern"]}
            ]
        }
        tags = [{"kind": rules.KIND, "decoration": data["tag_decoration"], "pattern": data["tag_pattern"]}]
        if self.instance.pk is None:
            return immutability_rule_create(
                project=data["project"],
                scope_selectors=scope,
                tag_selectors=tags,
                disabled=data["disabled"],
                priority=data["priority"],
            )
        return immutability_rule_update(
            rule=self.instance,
            scope_selectors=scope,
            tag_selectors=tags,
            disabled=data["disabled"],
            priority=data["priority"],
        )


@admin.register(ImmutabilityRule)
class ImmutabilityRuleAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = ImmutabilityRuleForm
    list_display = ("id", "project", "priority", "disabled", "repositories", "tags", "updated")
    list_filter = ("disabled",)
    search_fields = ("project__name",)
    list_select_related = ("project",)
    autocomplete_fields = ("project",)

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        return ("project",) if obj else ()

    @admin.display(description="repositories")
    def repositories(self, obj: ImmutabilityRule) -> str:
        return _describe(obj.scope_selectors.get(rules.REPOSITORY_SCOPE) or [])

    @admin.display(description="tags")
    def tags(self, obj: ImmutabilityRule) -> str:
        return _describe(obj.tag_selectors)

    def service_delete(self, request: HttpRequest, obj: ImmutabilityRule) -> None:
        immutability_rule_delete(rule=obj)


def _describe(selectors: list[dict]) -> str:
    return ", ".join(f"{s.get('decoration')} {s.get('pattern')}" for s in selectors)
