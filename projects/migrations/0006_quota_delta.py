"""Pending quota changes (QuotaDelta), and the beat schedule that folds them into Quota.used every minute."""

import django.db.models.deletion
from django.db import migrations, models

NAME = "Fold pending quota changes"


def create_schedule(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = interval_model.objects.get_or_create(every=1, period="minutes")
    task_model.objects.get_or_create(name=NAME, defaults={"task": "registry.quota_fold", "interval": interval})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0005_robot_system_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="QuotaDelta",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("size", models.BigIntegerField()),
                (
                    "project",
                    # No database constraint: an insert on the push path then costs no check of the project row.
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="projects.project",
                    ),
                ),
            ],
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
