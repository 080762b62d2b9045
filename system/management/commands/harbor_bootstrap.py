"""Make sure the admin superuser and the public `library` project exist."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from common.files import secret_file
from projects.models import Project
from projects.services import project_create


class Command(BaseCommand):
    help = "Create the admin user (HARBOR_ADMIN_PASSWORD, else generated once under var/) and project library."

    def handle(self, *args, **options) -> None:
        user_model = get_user_model()
        admin = user_model.objects.filter(username="admin").first()
        if admin is None:
            password = settings.ADMIN_PASSWORD
            generated = not password
            if generated:
                password = secret_file(settings.VAR_DIR / "admin_password", nbytes=18)
            admin = user_model.objects.create_superuser("admin", "admin@localhost", password)
            where = f" (stored in {settings.VAR_DIR / 'admin_password'})" if generated else ""
            self.stdout.write(f"created user admin with password {password}{where}")
        elif settings.ADMIN_PASSWORD and not admin.check_password(settings.ADMIN_PASSWORD):
            admin.set_password(settings.ADMIN_PASSWORD)
            admin.save(update_fields=["password"])
            self.stdout.write("admin password set from HARBOR_ADMIN_PASSWORD")
        if not Project.objects.filter(name="library").exists():
            project_create(name="library", public=True, owner=admin)
            self.stdout.write("created public project library")
