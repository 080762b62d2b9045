"""`/auditlog-exts`, `/auditlog-exts/events`, `/projects/{project_name}/auditlog-exts` (Harbor's audit log),
Harbor's older `/audit-logs` and `/projects/{project_name}/logs` over the same records, and our streaming
exports of the lists (`.../auditlog-exts/export?format=csv|json`)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import selectors
from audit.api.serializers import AuditLogEventTypeSerializer, AuditLogExtSerializer, AuditLogSerializer
from audit.export import FORMATS, export_response
from common.api.errors import BadRequest
from projects.drf import ProjectScopedMixin, principal_of


class ProjectNameMixin(ProjectScopedMixin):
    """The project named by `{project_name}` (Harbor's audit routes take a name, never an id)."""

    project_kwarg = "project_name"
    project_is_name = True


class AuditLogExtViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditLogExtSerializer
    # Everyone signed in may ask; the selector shows each caller only what the oracle lets them list.
    permission_required = {"list": "authenticated"}
    selector = staticmethod(selectors.audit_log_list)

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        return self.selector(principal=principal_of(self.request), q=params.get("q"), sort=params.get("sort"))

    @extend_schema(operation_id="listAuditLogExts", tags=["auditlog"])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)


class ProjectAuditLogExtViewSet(ProjectNameMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditLogExtSerializer
    permission_required = {"list": selectors.LOG_LIST}
    selector = staticmethod(selectors.audit_log_list)

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        principal = principal_of(self.request)
        return self.selector(principal=principal, project=self.project, q=params.get("q"), sort=params.get("sort"))

    @extend_schema(operation_id="getLogExts", tags=["project"])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)


class AuditLogViewSet(AuditLogExtViewSet):
    """Harbor's older `/audit-logs`: its project, repository, artifact and tag events, as AuditLog."""

    serializer_class = AuditLogSerializer
    selector = staticmethod(selectors.audit_log_legacy_list)

    @extend_schema(operation_id="listAuditLogs", tags=["auditlog"])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)


class ProjectLogViewSet(ProjectAuditLogExtViewSet):
    """Harbor's older `/projects/{project_name}/logs`: the same for one project."""

    serializer_class = AuditLogSerializer
    selector = staticmethod(selectors.audit_log_legacy_list)

    @extend_schema(operation_id="getLogs", tags=["project"])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)


class AuditLogEventTypesView(APIView):
    permission_required = {"get": "authenticated"}

    @extend_schema(
        operation_id="listAuditLogEventTypes",
        tags=["auditlog"],
        responses={200: AuditLogEventTypeSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response([{"event_type": event} for event in selectors.event_types()])


def _format(request: Request) -> str:
    fmt = (request.query_params.get("format") or "csv").lower()
    if fmt not in FORMATS:
        raise BadRequest(f"unsupported export format {fmt!r}; use csv or json")
    return fmt


class ExportView(APIView):
    def perform_content_negotiation(self, request: Request, force: bool = False):  # noqa: ANN201
        # `?format=` names the download's format here, not one of DRF's renderers: errors stay JSON.
        return super().perform_content_negotiation(request, force=True)


class AuditLogExportView(ExportView):
    """Ours, not Harbor's: the list of /auditlog-exts (same `q`, `sort` by op_time) as a CSV or JSON download."""

    permission_required = {"get": "authenticated"}

    @extend_schema(exclude=True)  # not a Harbor operation: kept out of Harbor's document
    def get(self, request: Request) -> StreamingHttpResponse:
        fmt, params = _format(request), request.query_params
        records = selectors.audit_log_list(principal=principal_of(request), q=params.get("q"))
        return export_response(records, fmt=fmt, descending=selectors.export_order(params.get("sort")))


class ProjectAuditLogExportView(ProjectNameMixin, ExportView):
    """Ours, not Harbor's: /projects/{project_name}/auditlog-exts as a CSV or JSON download."""

    permission_required = {"get": selectors.LOG_LIST}

    @extend_schema(exclude=True)  # not a Harbor operation: kept out of Harbor's document
    def get(self, request: Request, project_name: str) -> StreamingHttpResponse:
        fmt, params = _format(request), request.query_params
        records = selectors.audit_log_list(principal=principal_of(request), project=self.project, q=params.get("q"))
        descending = selectors.export_order(params.get("sort"))
        return export_response(records, fmt=fmt, descending=descending, stem=f"auditlogs-{self.project.name}")
