"""Labels (global or per project) and the labels added to artifacts."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0001_initial'),
        ('registry', '0002_purge_schedule'),
    ]

    operations = [
        migrations.CreateModel(
            name='Label',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('name', models.CharField(max_length=128)),
                ('description', models.TextField(blank=True, default='')),
                ('color', models.CharField(blank=True, default='', max_length=32)),
                ('scope', models.CharField(choices=[('g', 'global'), ('p', 'project')], max_length=1)),
                ('project', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='labels', to='projects.project')),
            ],
        ),
        migrations.CreateModel(
            name='ArtifactLabel',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('artifact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='label_refs', to='registry.artifact')),
                ('label', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='artifact_refs', to='registry.label')),
            ],
        ),
        migrations.AddConstraint(
            model_name='label',
            constraint=models.UniqueConstraint(condition=models.Q(('scope', 'g')), fields=('name',), name='label_unique_global_name'),
        ),
        migrations.AddConstraint(
            model_name='label',
            constraint=models.UniqueConstraint(condition=models.Q(('scope', 'p')), fields=('project', 'name'), name='label_unique_project_name'),
        ),
        migrations.AddConstraint(
            model_name='label',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('project__isnull', True), ('scope', 'g')), models.Q(('project__isnull', False), ('scope', 'p')), _connector='OR'), name='label_scope_matches_project'),
        ),
        migrations.AddConstraint(
            model_name='artifactlabel',
            constraint=models.UniqueConstraint(fields=('artifact', 'label'), name='artifactlabel_unique'),
        ),
    ]
