"""``/api/projects``: create, list, read, update and delete (the browser: git/routes.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from platform_sdk.core.pagination import Page
from platform_sdk.projects.schemas import ProjectCreate, ProjectOut, ProjectUpdate
from platform_sdk.projects.services import projects as service
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/projects", tags=["projects"])


@router.get("", summary="Projects the caller may read, newest first")
def list_projects(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    owner: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Search name/description")] = None,
) -> Page[ProjectOut]:
    return call(plat, service.list_projects, actor=actor, page=page, owner=owner, search=q)


@router.post("", status_code=201, summary="Create a project owned by the caller")
def create_project(plat: PlatformDep, actor: ActorDep, body: ProjectCreate) -> ProjectOut:
    return call(plat, service.create_project, actor=actor, body=body)


@router.get("/{owner}/{name}", summary="One project")
def get_project(plat: PlatformDep, actor: ActorDep, owner: str, name: str) -> ProjectOut:
    return call(plat, service.get_project, actor=actor, ref=f"{owner}/{name}")


@router.patch(
    "/{owner}/{name}", summary="Change description, visibility, default or protected branches"
)
def update_project(
    plat: PlatformDep, actor: ActorDep, owner: str, name: str, body: ProjectUpdate
) -> ProjectOut:
    return call(plat, service.update_project, actor=actor, ref=f"{owner}/{name}", body=body)


@router.delete("/{owner}/{name}", status_code=204, summary="Delete a project (frees its name)")
def delete_project(plat: PlatformDep, actor: ActorDep, owner: str, name: str) -> Response:
    call(plat, service.delete_project, actor=actor, ref=f"{owner}/{name}")
    return Response(status_code=204)
