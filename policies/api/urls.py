"""Routes of the policies app under /api/v2.0/."""

from django.urls import path

from policies.api.views import ImmutableRuleViewSet

rules = ImmutableRuleViewSet.as_view({"get": "list", "post": "create"})
rule = ImmutableRuleViewSet.as_view({"put": "update", "delete": "destroy"})

urlpatterns = [
    path("projects/<str:project_name_or_id>/immutabletagrules", rules, name="immutable-rules"),
    path("projects/<str:project_name_or_id>/immutabletagrules/<str:immutable_rule_id>", rule, name="immutable-rule"),
]
