"""factory_boy factories for repositories, blobs, artifacts and tags."""

from __future__ import annotations

import json

import factory

from projects.tests.factories import ProjectFactory
from registry import media_types as mt
from registry.digest import Digest
from registry.models import Artifact, Blob, Repository, RepositoryBlob, Tag


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository

    project = factory.SubFactory(ProjectFactory)
    name = factory.LazyAttributeSequence(lambda o, n: f"{o.project.name}/repo{n}")


class BlobFactory(factory.django.DjangoModelFactory):
    """A blob row; pass `content` to derive digest and size (the bytes are not written)."""

    class Meta:
        model = Blob

    class Params:
        content = factory.Sequence(lambda n: f"blob content {n}".encode())

    digest = factory.LazyAttribute(lambda o: str(Digest.of(o.content)))
    size = factory.LazyAttribute(lambda o: len(o.content))


class RepositoryBlobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RepositoryBlob

    repository = factory.SubFactory(RepositoryFactory)
    blob = factory.SubFactory(BlobFactory)


def _image_manifest(seed: int) -> bytes:
    config = f'{{"seed":{seed}}}'.encode()
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_IMAGE_CONFIG, "digest": str(Digest.of(config)), "size": len(config)},
        "layers": [],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


class ArtifactFactory(factory.django.DjangoModelFactory):
    """An image manifest row, stored byte-exact; its digest is the sha256 of `manifest`."""

    class Meta:
        model = Artifact

    repository = factory.SubFactory(RepositoryFactory)
    manifest = factory.Sequence(_image_manifest)
    digest = factory.LazyAttribute(lambda o: str(Digest.of(bytes(o.manifest))))
    media_type = mt.OCI_MANIFEST
    artifact_type = mt.OCI_IMAGE_CONFIG
    manifest_size = factory.LazyAttribute(lambda o: len(o.manifest))
    size = factory.LazyAttribute(lambda o: len(o.manifest))


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    repository = factory.SubFactory(RepositoryFactory)
    artifact = factory.SubFactory(ArtifactFactory, repository=factory.SelfAttribute("..repository"))
    name = factory.Sequence(lambda n: f"v{n}")
