"""HTTP API of secrets: write-only values, readable metadata.

``PUT`` takes a value and answers with metadata; ``GET`` and the list answer with metadata;
nothing over HTTP ever returns a value — runtimes resolve values in-process through the
audited ``resolve`` service, so there is deliberately no resolve route. ``?project=`` is
``owner/name`` or a project UUID; without it the call acts on the global secrets.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from platform_sdk.core.pagination import Page
from platform_sdk.secrets import service
from platform_sdk.secrets.schemas import NAME_PATTERN, SecretOut, SecretSet
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["secrets"])

NameParam = Annotated[
    str,
    Path(
        pattern=NAME_PATTERN,
        max_length=128,
        description="Upper-case letters, digits and _, like an environment variable",
    ),
]
ProjectParam = Annotated[
    str | None,
    Query(max_length=300, description="owner/name or UUID of the project; omit for global"),
]


@router.get("/secrets", summary="List secrets (metadata only)")
def list_secrets(
    plat: PlatformDep, actor: ActorDep, page: PageDep, project: ProjectParam = None
) -> Page[SecretOut]:
    return call(plat, service.list_secrets, actor=actor, page=page, project=project)


@router.put("/secrets/{name}", summary="Set a new version of a secret (write-only)")
def set_secret(
    plat: PlatformDep,
    actor: ActorDep,
    name: NameParam,
    body: SecretSet,
    project: ProjectParam = None,
) -> SecretOut:
    return call(
        plat,
        service.set_secret,
        actor=actor,
        name=name,
        value=body.value.get_secret_value(),
        scope=body.scope,
        project=project,
    )


@router.get("/secrets/{name}", summary="Metadata of a secret's latest version")
def get_secret(
    plat: PlatformDep, actor: ActorDep, name: NameParam, project: ProjectParam = None
) -> SecretOut:
    return call(plat, service.get_secret, actor=actor, name=name, project=project)


@router.delete("/secrets/{name}", status_code=204, summary="Delete every version of a secret")
def delete_secret(
    plat: PlatformDep, actor: ActorDep, name: NameParam, project: ProjectParam = None
) -> Response:
    call(plat, service.delete_secret, actor=actor, name=name, project=project)
    return Response(status_code=204)
