"""The permission cache never outlives a change, whoever made it.

Within one process a change drops the cache synchronously; between processes that share a
Valkey bus the event travels over it (tested in test_rbac_matrix); between processes (or
Platform objects) that share only an embedded data dir, a stamp file in the data dir does.
"""

from __future__ import annotations

from pathlib import Path

from platform_sdk.config import load_settings
from platform_sdk.core.access import Actor
from platform_sdk.identity import rbac
from platform_sdk.identity.schemas import DelegationCreate
from platform_sdk.identity.services import delegations
from platform_sdk.sdk import Platform
from tests.plugins.platforms import People


def _can(plat: Platform, actor: Actor, perm: str) -> bool:
    with plat.session() as db:
        return rbac.can(db, actor, perm)


def test_a_second_platform_on_the_same_data_dir_sees_a_revocation_at_once(
    platform: Platform, people: People, tmp_path: Path
) -> None:
    ops = people.user("ops", roles=("ops",))
    agent = people.user("agent", roles=())
    other = Platform(platform.settings)  # its own runtime and permission cache
    # Platforms of one process share the in-process bus; another process would not: give
    # this one a bus of its own, so only the data-dir stamp can tell it about the change.
    from platform_sdk.core.bus_memory import InProcessBus

    shared = other.bus
    other.bus = other.runtime.bus = InProcessBus()
    shared.close()
    try:
        assert other.bus is not platform.bus
        assert not _can(other, agent, "deploy:promote")  # warm the other cache: denied
        with platform.session() as db:
            grant = delegations.create_delegation(
                db, actor=ops, body=DelegationCreate(grantee="agent", permission="deploy:promote")
            )
        assert _can(other, agent, "deploy:promote")  # granted: seen at once
        with platform.session() as db:
            delegations.revoke_delegation(db, actor=ops, delegation_id=grant.id)
        assert not _can(other, agent, "deploy:promote")  # revoked: seen at once
    finally:
        other.close()


def test_the_stamp_costs_one_stat_and_survives_a_missing_data_dir(tmp_path: Path) -> None:
    plat = Platform(load_settings(data_dir=tmp_path / "never-created"))
    try:
        cache = rbac.PermissionCache(plat.runtime)
        assert cache._stamp_identity() is None  # no file yet: no error
        cache._on_event({})
        assert cache._stamp_identity() is not None
    finally:
        plat.close()
