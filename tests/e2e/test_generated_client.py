"""A client generated from our openapi.json by openapi-python-client works against a real server.

Harbor's users drive its API through generated clients; the names they call (operationIds), the
parameters and the JSON shapes come from the document, so this is the end-to-end proof that ours
describe what the server does. Steps whose operation is not in the document yet are skipped by name.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import httpx
import pytest

from common.testing.v2client import V2Client
from tests.e2e.conftest import PASSWORD

PACKAGE = "harbor_generated_client"


@pytest.fixture(scope="module")
def document(registry_server) -> dict:
    response = httpx.get(f"{registry_server.url}/api/v2.0/openapi.json", timeout=60)  # anonymous
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def operation_ids(document) -> set[str]:
    return {op["operationId"] for item in document["paths"].values() for op in item.values() if "operationId" in op}


@pytest.fixture(scope="module")
def harbor(document, tmp_path_factory):  # noqa: ANN201
    """The generated package, imported."""
    workdir = tmp_path_factory.mktemp("generated-client")
    spec = workdir / "openapi.json"
    spec.write_text(json.dumps(document))
    bindir = Path(sys.executable).parent
    generator = shutil.which("openapi-python-client", path=str(bindir)) or shutil.which("openapi-python-client")
    assert generator, "openapi-python-client is not installed (requirements-test.txt)"
    result = subprocess.run(
        [generator, "generate", "--path", str(spec), "--output-path", str(workdir / PACKAGE), "--meta", "none"]
        + ["--fail-on-warning"],  # a construct the generator cannot map is a failure, not a skipped endpoint
        cwd=workdir,
        env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"},  # its ruff post-hooks
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(workdir))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(workdir))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def operation(harbor: types.ModuleType, operation_id: str) -> types.ModuleType:
    """The generated module of an operation (`api/<tag>/<snake_case id>.py`), whatever its tag."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()
    api = importlib.import_module(f"{harbor.__name__}.api")
    for tag in pkgutil.iter_modules(api.__path__):
        if (Path(api.__path__[0]) / tag.name / f"{snake}.py").exists():
            return importlib.import_module(f"{api.__name__}.{tag.name}.{snake}")
    raise AssertionError(f"no generated module for {operation_id}")


def body_model(module: types.ModuleType) -> type:
    """The model class the operation takes as its body."""
    annotation = inspect.signature(module.sync_detailed).parameters["body"].annotation
    return next(arg for arg in annotation.__args__ if hasattr(arg, "from_dict"))


def basic(harbor: types.ModuleType, url: str, username: str, password: str):  # noqa: ANN201
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return harbor.AuthenticatedClient(
        base_url=f"{url}/api/v2.0", token=token, prefix="Basic", raise_on_unexpected_status=True
    )


@pytest.fixture(scope="module")
def admin_api(harbor, registry_server):  # noqa: ANN201
    return basic(harbor, registry_server.url, "admin", registry_server.admin_password)


def project_create(harbor: types.ModuleType, client, name: str) -> int:  # noqa: ANN001
    create = operation(harbor, "createProject")
    response = create.sync_detailed(
        client=client, body=body_model(create).from_dict({"project_name": name, "metadata": {"public": "false"}})
    )
    assert response.status_code == 201, response.content
    location = response.headers["Location"]
    assert re.fullmatch(r"/api/v2\.0/projects/\d+", location), location
    return int(location.rsplit("/", 1)[1])


def test_create_get_and_list_projects(harbor, admin_api, registry_server):
    project_id = project_create(harbor, admin_api, "genclient")

    get = operation(harbor, "getProject")
    project = get.sync(client=admin_api, project_name_or_id="genclient")
    assert isinstance(project, harbor.models.Project)
    assert (project.project_id, project.name, project.owner_name) == (project_id, "genclient", "admin")
    assert project.metadata.additional_properties["public"] == "false"
    assert get.sync(client=admin_api, project_name_or_id=str(project_id)).name == "genclient"
    by_name = get.sync_detailed(client=admin_api, project_name_or_id=str(project_id), x_is_resource_name=True)
    assert by_name.status_code == 404  # the header says "a name": no project is named after that number
    assert get.sync(client=admin_api, project_name_or_id="genclient", x_is_resource_name=False).name == "genclient"
    head = operation(harbor, "headProject")
    assert head.sync_detailed(client=admin_api, project_name="genclient").status_code == 200
    assert head.sync_detailed(client=admin_api, project_name="no-such-project").status_code == 404

    listing = operation(harbor, "listProjects")
    found = listing.sync_detailed(client=admin_api, q="name=genclient")
    assert [p.name for p in found.parsed] == ["genclient"]
    assert found.headers["X-Total-Count"] == "1"
    paged = listing.sync_detailed(client=admin_api, page=1, page_size=1, sort="name")
    assert len(paged.parsed) == 1
    assert int(paged.headers["X-Total-Count"]) >= 3  # the seeded `team` and `other`, and ours
    assert 'rel="next"' in paged.headers["Link"]
    assert [p.name for p in listing.sync(client=admin_api, name="genclient", public=False)] == ["genclient"]

    summary = operation(harbor, "getProjectSummary").sync(client=admin_api, project_name_or_id="genclient")
    assert isinstance(summary, harbor.models.ProjectSummary)
    assert (summary.repo_count, summary.project_admin_count) == (0, 1)
    deletable = operation(harbor, "getProjectDeletable").sync(client=admin_api, project_name_or_id="genclient")
    assert isinstance(deletable, harbor.models.ProjectDeletable)
    assert deletable.deletable is True

    # Errors come back as Harbor's envelope, parsed into the generated Errors model.
    conflict = operation(harbor, "createProject").sync_detailed(
        client=admin_api, body=harbor.models.ProjectReq.from_dict({"project_name": "genclient"})
    )
    assert conflict.status_code == 409
    assert isinstance(conflict.parsed, harbor.models.Errors)
    assert conflict.parsed.errors[0].code == "CONFLICT"
    missing = get.sync_detailed(client=admin_api, project_name_or_id="no-such-project")
    assert missing.status_code == 404
    assert missing.parsed.errors[0].code == "NOT_FOUND"
    anonymous = harbor.Client(base_url=f"{registry_server.url}/api/v2.0", raise_on_unexpected_status=True)
    refused = operation(harbor, "createProject").sync_detailed(
        client=anonymous, body=harbor.models.ProjectReq.from_dict({"project_name": "anon"})
    )
    assert refused.status_code == 401
    assert refused.parsed.errors[0].code == "UNAUTHORIZED"
    # a private project: anonymous does not see it, nor does a user who is not a member
    assert get.sync_detailed(client=anonymous, project_name_or_id="genclient").status_code == 401
    outsider = basic(harbor, registry_server.url, "outsider", PASSWORD)
    assert get.sync_detailed(client=outsider, project_name_or_id="genclient").status_code == 404


def test_add_a_project_member(harbor, admin_api, operation_ids, registry_server):
    if "createProjectMember" not in operation_ids:
        pytest.skip("createProjectMember not in the schema yet")
    project_create(harbor, admin_api, "genclient-members")
    create = operation(harbor, "createProjectMember")
    body = body_model(create).from_dict({"role_id": 2, "member_user": {"username": "outsider"}})  # developer
    response = create.sync_detailed(client=admin_api, project_name_or_id="genclient-members", body=body)
    assert response.status_code == 201, response.content

    # The membership is real: the outsider now sees the private project.
    outsider = basic(harbor, registry_server.url, "outsider", PASSWORD)
    project = operation(harbor, "getProject").sync(client=outsider, project_name_or_id="genclient-members")
    assert project.current_user_role_id == 2
    if "listProjectMembers" in operation_ids:
        members = operation(harbor, "listProjectMembers").sync(client=admin_api, project_name_or_id="genclient-members")
        assert {(m.entity_name, m.role_id) for m in members} >= {("outsider", 2)}


def test_list_artifacts_after_a_push(harbor, admin_api, operation_ids, registry_server):
    if "listArtifacts" not in operation_ids:
        pytest.skip("listArtifacts not in the schema yet")
    project_create(harbor, admin_api, "genclient-artifacts")
    pusher = V2Client(registry_server.url, "admin", registry_server.admin_password)
    digest, _ = pusher.push_image("genclient-artifacts/app", "v1", seed="generated-client")

    listing = operation(harbor, "listArtifacts")
    response = listing.sync_detailed(client=admin_api, project_name="genclient-artifacts", repository_name="app")
    assert response.status_code == 200, response.content
    assert [a.digest for a in response.parsed] == [digest]
    assert response.headers["X-Total-Count"] == "1"


def test_swagger_ui_serves_its_own_assets(registry_server):
    registry_server.manage("collectstatic", "--noinput", "-v0")  # what `make run` does before serving
    page = httpx.get(f"{registry_server.url}/api/v2.0/swagger-ui/", timeout=30)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert len(assets) >= 3  # css, bundle, standalone preset (and the favicon)
    for asset in assets:
        assert httpx.get(f"{registry_server.url}{asset}", timeout=30).status_code == 200, asset
