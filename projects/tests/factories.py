"""factory_boy factories for users, projects and members."""

from __future__ import annotations

import factory
from django.conf import settings

from projects.models import Member, Project, Role

PASSWORD = "S3cret-pass-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = settings.AUTH_USER_MODEL
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.django.Password(PASSWORD)
    is_active = True
    is_superuser = False
    is_staff = False


class SysadminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_superuser = True
    is_staff = True


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"project{n}")
    public = False


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.DEVELOPER
