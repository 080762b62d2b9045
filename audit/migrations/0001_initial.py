import django.utils.timezone
from django.db import migrations, models



class Migration(migrations.Migration):
    initial = True

    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="AuditLog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("op_time", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("username", models.CharField(db_index=True, max_length=255)),
                ("is_robot", models.BooleanField(default=False)),
                ("source_ip", models.CharField(blank=True, default="", max_length=64)),
                ("project_id", models.BigIntegerField(blank=True, null=True)),
                ("resource_type", models.CharField(db_index=True, max_length=64)),
                ("resource", models.CharField(max_length=1024)),
                ("operation", models.CharField(db_index=True, max_length=32)),
                ("operation_description", models.TextField(blank=True, default="")),
                ("operation_result", models.BooleanField(default=True)),
            ],
            options={
                "ordering": ["-op_time", "-id"],
                "indexes": [models.Index(fields=["project_id", "-op_time"], name="audit_project_time")],
            },
        ),
    ]
