from django.db import migrations
from django.db.models import F


def bump(apps, schema_editor):
    # A project's policy revision 0 means "never had a policy": the push event's webhook fan-out then
    # skips the policy lookup (projects.services.project_policies_changed). Projects that already
    # have webhook policies say otherwise.
    Project = apps.get_model("projects", "Project")
    WebhookPolicy = apps.get_model("audit", "WebhookPolicy")
    Project.objects.filter(pk__in=WebhookPolicy.objects.values("project_id")).update(
        policy_revision=F("policy_revision") + 1
    )


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_webhooks'),
        ('projects', '0007_project_policy_revision'),
    ]

    operations = [
        migrations.RunPython(bump, migrations.RunPython.noop),
    ]
