"""Operator console for labels, global (scope g) and per project (scope p): writes through the label services."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from common.console import ServiceAdminMixin, ServiceForm
from projects.console import SystemResourceAdminMixin
from registry.models import Label
from registry.services.labels import label_create, label_delete, label_update


class LabelCreateForm(ServiceForm):
    class Meta:
        model = Label
        fields = ("name", "scope", "project", "description", "color")

    def submit(self) -> Label:
        data = self.cleaned_data
        return label_create(
            name=data["name"],
            scope=data["scope"],
            project=data["project"],
            description=data["description"],
            color=data["color"],
        )


class LabelChangeForm(ServiceForm):
    """Name, description and colour (a label's scope and project never change)."""

    class Meta:
        model = Label
        fields = ("name", "description", "color")

    def submit(self) -> Label:
        data = self.cleaned_data
        label = Label.objects.select_related("project").get(pk=self.instance.pk)
        return label_update(label=label, name=data["name"], description=data["description"], color=data["color"])


@admin.register(Label)
class LabelAdmin(SystemResourceAdminMixin, ServiceAdminMixin, admin.ModelAdmin):
    oracle_resource = "label"
    form = LabelChangeForm
    list_display = ("name", "scope", "project", "color", "description", "artifact_count", "created")
    list_filter = ("scope",)
    search_fields = ("name", "project__name", "description")
    list_select_related = ("project",)
    autocomplete_fields = ("project",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Label]:
        return super().get_queryset(request).annotate(_artifacts=Count("artifact_refs"))

    def get_form(self, request, obj=None, **kwargs):  # noqa: ANN001, ANN201
        if obj is None:
            kwargs["form"] = LabelCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        if obj is None:
            return LabelCreateForm.Meta.fields
        return ("name", "scope", "project", "description", "color", "created", "updated")

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        return () if obj is None else ("scope", "project", "created", "updated")

    @admin.display(description="artifacts", ordering="_artifacts")
    def artifact_count(self, obj: Label) -> int:
        return obj._artifacts

    def service_delete(self, request: HttpRequest, obj: Label) -> None:
        label_delete(label=obj)
