from django.db import migrations
from django.db.models import F


def bump(apps, schema_editor):
    # A project's policy revision 0 means "never had a policy": the push path then skips the rule
    # lookup (projects.services.project_policies_changed). Projects that already have rules say otherwise.
    Project = apps.get_model("projects", "Project")
    ImmutabilityRule = apps.get_model("policies", "ImmutabilityRule")
    Project.objects.filter(pk__in=ImmutabilityRule.objects.values("project_id")).update(
        policy_revision=F("policy_revision") + 1
    )


class Migration(migrations.Migration):

    dependencies = [
        ('policies', '0002_retention_policies'),
        ('projects', '0007_project_policy_revision'),
    ]

    operations = [
        migrations.RunPython(bump, migrations.RunPython.noop),
    ]
