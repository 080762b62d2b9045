"""Create a local user or reset its password from the command line."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "harbor_user USERNAME PASSWORD [--sysadmin]"

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("username")
        parser.add_argument("password")
        parser.add_argument("--sysadmin", action="store_true")

    def handle(self, *args, username: str, password: str, sysadmin: bool, **options) -> None:
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.is_superuser = user.is_staff = sysadmin
        user.save()
        self.stdout.write(f"user {username} ready")
