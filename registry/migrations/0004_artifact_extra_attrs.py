"""Artifact.extra_attrs: Harbor's config-derived attributes, filled in when the API first shows an artifact."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0003_labels'),
    ]

    operations = [
        migrations.AddField(
            model_name='artifact',
            name='extra_attrs',
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
    ]
