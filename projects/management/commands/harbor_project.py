"""Create or update a project and its members from the command line."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from projects.models import Project, Role
from projects.services import member_set, project_create

ROLES = {label: value for value, label in Role.choices}


class Command(BaseCommand):
    help = "harbor_project NAME [--public] [--member USER:ROLE ...] (roles: " + ", ".join(ROLES) + ")"

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("name")
        parser.add_argument("--public", action="store_true")
        parser.add_argument("--member", action="append", default=[])

    def handle(self, *args, name: str, public: bool, member: list[str], **options) -> None:
        project = Project.objects.filter(name=name).first()
        if project is None:
            try:
                project = project_create(name=name, public=public)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        elif project.public != public:
            project.public = public
            project.save(update_fields=["public"])
        for item in member:
            username, _, role = item.partition(":")
            if role not in ROLES:
                raise CommandError(f"unknown role {role!r}")
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user {username!r}")
            member_set(project=project, user=user, role=ROLES[role])
        self.stdout.write(f"project {name} ready")
