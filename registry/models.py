"""Repositories, artifacts (manifests by digest), tags, blobs and upload sessions."""

from __future__ import annotations

import uuid

from django.db import models

from common.models import TimeStampedModel
from projects.models import Project


class Repository(TimeStampedModel):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="repositories")
    name = models.CharField(max_length=255, unique=True)  # full name, `project/...`
    description = models.TextField(blank=True, default="")
    pull_count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "repositories"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Blob(models.Model):
    """A content-addressed blob in the store (layers and configs)."""

    digest = models.CharField(max_length=200, unique=True)
    size = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.digest


class RepositoryBlob(models.Model):
    """A blob is readable in a repository only once linked there (by upload or mount)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="blob_links")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="repository_links")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "blob"], name="repositoryblob_unique")]


class Artifact(models.Model):
    """A manifest (image, index or artifact) in a repository, stored byte-exact."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="artifacts")
    digest = models.CharField(max_length=200)
    media_type = models.CharField(max_length=255)
    artifact_type = models.CharField(max_length=255, blank=True, default="")  # artifactType or config type
    manifest = models.BinaryField()
    manifest_size = models.BigIntegerField()
    size = models.BigIntegerField()  # manifest plus the blobs it references
    subject_digest = models.CharField(max_length=200, blank=True, default="", db_index=True)
    annotations = models.JSONField(default=dict, blank=True)
    push_time = models.DateTimeField(auto_now_add=True)
    pull_time = models.DateTimeField(null=True, blank=True)
    # Harbor's extra_attrs (image config fields, Chart.yaml fields...), derived from the config blob
    # the first time the API shows the artifact; None until then (never on the /v2/ push path).
    extra_attrs = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "digest"], name="artifact_unique_digest")]
        indexes = [models.Index(fields=["repository", "subject_digest"], name="artifact_subject_idx")]

    def __str__(self) -> str:
        return f"{self.repository.name}@{self.digest}"


class ArtifactBlob(models.Model):
    """Which blobs an artifact references (config and layers)."""

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="blob_refs")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="artifact_refs")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["artifact", "blob"], name="artifactblob_unique")]


class ArtifactReference(models.Model):
    """An index's child manifest (by digest, within the same repository)."""

    parent = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="children")
    child = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="parents")
    platform = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["parent", "child"], name="artifactreference_unique")]


class Tag(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=128)
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="tags")
    push_time = models.DateTimeField(auto_now=True)
    pull_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return f"{self.repository.name}:{self.name}"


class Upload(models.Model):
    """An open blob upload session, bound to the repository and principal that opened it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="uploads")
    owner = models.CharField(max_length=255, blank=True, default="")  # principal name; "" for none
    size = models.BigIntegerField(default=0)  # bytes received so far
    # Object stores keep each chunk as an object: [[name, size], ...] in order; empty on filesystems.
    parts = models.JSONField(default=list, blank=True)
    # sha256 of all `size` bytes received so far, kept after each chunk so that completing
    # on another node needs no re-read (hex string; never a pickled hasher state).
    sha256_so_far = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"upload {self.id} to {self.repository.name}"


class Label(TimeStampedModel):
    """A label: global (scope "g", managed by sysadmins) or belonging to one project (scope "p")."""

    GLOBAL = "g"
    PROJECT = "p"

    name = models.CharField(max_length=128)
    description = models.TextField(blank=True, default="")
    color = models.CharField(max_length=32, blank=True, default="")
    scope = models.CharField(max_length=1, choices=[(GLOBAL, "global"), (PROJECT, "project")])
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="labels")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=models.Q(scope="g"), name="label_unique_global_name"),
            models.UniqueConstraint(
                fields=["project", "name"], condition=models.Q(scope="p"), name="label_unique_project_name"
            ),
            models.CheckConstraint(
                condition=models.Q(scope="g", project__isnull=True) | models.Q(scope="p", project__isnull=False),
                name="label_scope_matches_project",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ArtifactLabel(models.Model):
    """A label added to an artifact."""

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="label_refs")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="artifact_refs")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["artifact", "label"], name="artifactlabel_unique")]
