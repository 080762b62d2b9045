from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0006_quota_delta'),
    ]

    operations = [
        migrations.AddField(
            model_name='project',
            name='policy_revision',
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
    ]
