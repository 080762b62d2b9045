"""`/quotas`: list, get and update project storage quotas (system admins, as in Harbor)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.filters import queryset_sort
from common.api.params import id_param
from projects import quotas
from projects.models import Quota


class QuotaSerializer(serializers.ModelSerializer):
    ref = serializers.SerializerMethodField()
    hard = serializers.SerializerMethodField()
    used = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField(source="created", read_only=True)
    update_time = serializers.DateTimeField(source="updated", read_only=True)

    class Meta:
        model = Quota
        fields = ["id", "ref", "hard", "used", "creation_time", "update_time"]

    def get_ref(self, obj: Quota) -> dict:
        project = obj.project
        return {
            "id": project.pk,
            "name": project.name,
            "owner_name": project.owner.get_username() if project.owner_id else "",
        }

    def get_hard(self, obj: Quota) -> dict[str, int]:
        return {"storage": obj.hard}

    def get_used(self, obj: Quota) -> dict[str, int]:
        return {"storage": obj.used}


class QuotaUpdateReqSerializer(serializers.Serializer):
    hard = serializers.DictField(child=serializers.IntegerField(min_value=-1))

    def validate_hard(self, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - {"storage"})
        if unknown:
            raise serializers.ValidationError(f"unsupported resource {', '.join(unknown)}; only storage has a quota")
        if "storage" not in value:
            raise serializers.ValidationError("hard.storage is required")
        return value


def _quota_id(raw: str) -> int:
    return id_param(raw, "quota id")


class QuotaViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = QuotaSerializer
    permission_required = {"list": "sysadmin", "retrieve": "sysadmin", "update": "sysadmin"}

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        queryset = quotas.quota_list(reference=params.get("reference"), reference_id=params.get("reference_id"))
        queryset = queryset_sort(
            queryset, sort=params.get("sort"), fields=quotas.QUOTA_SORT_FIELDS, default=("-created", "-pk")
        )
        return queryset.order_by(*queryset.query.order_by, "pk")  # ties (equal limits) page stably

    @extend_schema(operation_id="listQuotas")
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(operation_id="getQuota")
    def retrieve(self, request: Request, *args, id: str, **kwargs) -> Response:  # noqa: A002 - Harbor's name
        return Response(self.get_serializer(quotas.quota_get(quota_id=_quota_id(id))).data)

    @extend_schema(operation_id="updateQuota", request=QuotaUpdateReqSerializer, responses={200: None})
    def update(self, request: Request, *args, id: str, **kwargs) -> Response:  # noqa: A002 - Harbor's name
        data = QuotaUpdateReqSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quota = quotas.quota_get(quota_id=_quota_id(id))
        quotas.quota_update(quota=quota, hard=data.validated_data["hard"]["storage"])
        return Response(status=status.HTTP_200_OK)
