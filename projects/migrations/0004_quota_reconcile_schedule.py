"""Schedule the quota reconcile job daily (editable in admin under Periodic tasks)."""

from django.db import migrations

NAME = "Reconcile project storage quotas"


def create_schedule(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = interval_model.objects.get_or_create(every=1, period="days")
    task_model.objects.get_or_create(
        name=NAME,
        defaults={"task": "projects.quota_reconcile", "interval": interval, "kwargs": '{"trigger": "SCHEDULE"}'},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0003_userprofile_updated"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
