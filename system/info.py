"""What `/systeminfo` reports: version, URLs, configuration flags, and the blob volume's capacity."""

from __future__ import annotations

import os
import tomllib
from functools import cache
from importlib import metadata

from django.conf import settings
from django.utils import timezone

from common.configuration import config_get
from registry.storage import FilesystemBlobStore, blob_store


@cache
def harbor_version() -> str:
    """This build's version, from pyproject.toml (or the installed distribution), as Harbor spells it: v1.2.3."""
    try:
        with open(os.path.join(settings.BASE_DIR, "pyproject.toml"), "rb") as handle:
            version = tomllib.load(handle)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        try:
            version = metadata.version("harbor-django")
        except metadata.PackageNotFoundError:
            version = "dev"
    return f"v{version}"


def system_info(*, base_url: str, authenticated: bool) -> dict:
    """Harbor's GeneralInfo; anonymous callers get only the public part, as in Harbor."""
    info = {
        "auth_mode": config_get("auth_mode"),
        "primary_auth_mode": False,
        "self_registration": config_get("self_registration"),
        "banner_message": config_get("banner_message"),
        "oidc_provider_name": "",
    }
    if not authenticated:
        return info
    external_url = settings.EXTERNAL_URL or base_url.rstrip("/")
    info.update(
        {
            "harbor_version": harbor_version(),
            "external_url": external_url,
            "registry_url": external_url.split("://", 1)[-1],
            "project_creation_restriction": config_get("project_creation_restriction"),
            "has_ca_root": False,
            "read_only": config_get("read_only"),
            "registry_storage_provider_name": settings.STORAGE_BACKEND,
            "current_time": timezone.now(),
        }
    )
    return info


def volume_capacity() -> list[dict[str, int]]:
    """Total and free bytes of the filesystem holding the blobs; none for object stores (no local volume)."""
    store = blob_store()
    if not isinstance(store, FilesystemBlobStore):
        return []
    location = store.storage.location
    os.makedirs(location, exist_ok=True)
    stat = os.statvfs(location)
    return [{"total": stat.f_blocks * stat.f_frsize, "free": stat.f_bavail * stat.f_frsize}]
