"""`/projects/{project_name_or_id}/immutabletagrules[/{immutable_rule_id}]` (Harbor's immutable tag rules)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.params import id_param
from policies import selectors, services
from policies.models import ImmutabilityRule
from projects.drf import ProjectScopedMixin


class ImmutableSelectorSerializer(serializers.Serializer):
    kind = serializers.CharField(required=False, allow_blank=True)
    decoration = serializers.CharField(required=False, allow_blank=True)
    pattern = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    extras = serializers.CharField(required=False, allow_blank=True)


class ImmutableRuleSerializer(serializers.Serializer):
    """Harbor's ImmutableRule. On input, id, action, template and params are ignored (Harbor fixes them)."""

    id = serializers.IntegerField(source="pk", read_only=True)
    priority = serializers.IntegerField(required=False)
    disabled = serializers.BooleanField(required=False)
    action = serializers.CharField(read_only=True)
    template = serializers.CharField(read_only=True)
    params = serializers.SerializerMethodField()
    tag_selectors = ImmutableSelectorSerializer(many=True, required=False)
    scope_selectors = serializers.DictField(child=ImmutableSelectorSerializer(many=True), required=False)

    def get_params(self, obj: ImmutabilityRule) -> dict:
        return {}


def _rule_id(raw: str) -> int:
    return id_param(raw, "immutable rule id")


class ImmutableRuleViewSet(ProjectScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ImmutableRuleSerializer
    permission_required = {
        "list": ("immutable-tag", "list"),
        "create": ("immutable-tag", "create"),
        "update": ("immutable-tag", "update"),
        "destroy": ("immutable-tag", "delete"),
    }

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        return selectors.immutability_rule_list(project=self.project, q=params.get("q"), sort=params.get("sort"))

    def get_object(self) -> ImmutabilityRule:
        rule_id = _rule_id(self.kwargs["immutable_rule_id"])
        return selectors.immutability_rule_get(project=self.project, rule_id=rule_id)

    def _input(self, request: Request) -> dict:
        data = ImmutableRuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    @extend_schema(operation_id="ListImmuRules")
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(operation_id="CreateImmuRule", request=ImmutableRuleSerializer, responses={201: None})
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = self._input(request)
        rule = services.immutability_rule_create(
            project=self.project,
            scope_selectors=request.data.get("scope_selectors"),
            tag_selectors=request.data.get("tag_selectors"),
            disabled=data.get("disabled", False),
            priority=data.get("priority", 0),
        )
        return Response(status=status.HTTP_201_CREATED, headers={"Location": f"{request.path}/{rule.pk}"})

    @extend_schema(operation_id="UpdateImmuRule", request=ImmutableRuleSerializer, responses={200: None})
    def update(self, request: Request, *args, **kwargs) -> Response:
        data = self._input(request)
        services.immutability_rule_update(
            rule=self.get_object(),
            scope_selectors=request.data.get("scope_selectors"),
            tag_selectors=request.data.get("tag_selectors"),
            disabled=data.get("disabled"),
            priority=data.get("priority"),
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="DeleteImmuRule", responses={200: None})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.immutability_rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_200_OK)
