"""Admin: users, roles, role bindings, delegations (with expiry), tokens and the audit log.

Every table is a server-side :class:`~platform_sdk.dashboards.base.PagedTable` over the SDK
(``p.users.list``, ``p.roles.list``, ``p.bindings.list``, ``p.delegations.list``,
``p.tokens.list``, ``p.audit.list``). Nothing here checks permissions itself: a user without
``admin:users`` sees the services' answer (an error message in place of the table, or only
their own delegations and tokens).
"""

# mypy: disable-error-code="no-untyped-call"
# (Panel's widget constructors are untyped; everything else here is checked strictly.)

from __future__ import annotations

from typing import Any

import panel as pn
import param

from platform_sdk.dashboards.base import Dashboard, PagedTable

__all__ = ["AdminDashboard"]


def _delegation_row(d: Any) -> dict[str, Any]:
    row: dict[str, Any] = d.to_dict()
    row["expires_at"] = row.get("expires_at") or "never"
    return row


def _role_row(r: Any) -> dict[str, Any]:
    row: dict[str, Any] = r.to_dict()
    row["permissions"] = ", ".join(sorted(row.get("permissions") or []))
    return row


class AdminDashboard(Dashboard):
    """Identity and audit, as the acting user may see them."""

    title = "Admin"

    user_query = param.String(default="", doc="search username, display name, e-mail")
    user_kind: Any = param.Selector(default="", objects=["", "human", "agent"])
    binding_user = param.String(default="")
    delegation_active: Any = param.Selector(default="active", objects=["", "active", "inactive"])
    audit_user = param.String(default="")
    audit_action = param.String(default="", doc="action prefix, e.g. `secret.`")
    audit_project = param.String(default="")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.platform
        self.users = PagedTable(
            lambda: p.users.list(q=self.user_query or None, kind=self.user_kind or None),
            ["username", "kind", "display_name", "email", "is_active", "owner", "last_login_at"],
            empty="No users match. Create one: `platform users create NAME --email …`.",
            name="users",
        )
        self.roles = PagedTable(
            p.roles.list,
            ["name", "description", "is_system", "permissions"],
            row=_role_row,
            name="roles",
        )
        self.bindings = PagedTable(
            lambda: p.bindings.list(user=self.binding_user or None),
            ["user", "role", "project", "granted_by", "created_at"],
            empty="No role bindings match. Grant one: `platform grant USER ROLE`.",
            name="bindings",
        )
        self.delegations = PagedTable(
            lambda: p.delegations.list(
                active=None if not self.delegation_active else self.delegation_active == "active"
            ),
            ["grantor", "grantee", "permission", "project", "reason", "expires_at", "active"],
            row=_delegation_row,
            empty="No delegations. Delegate a permission: `platform delegate GRANTEE PERM "
            "--expires …`.",
            name="delegations",
        )
        self.tokens = PagedTable(
            lambda: p.tokens.list(include_revoked=True),
            [
                "name",
                "prefix",
                "user",
                "scopes",
                "project_id",
                "expires_at",
                "last_used_at",
                "revoked_at",
            ],
            empty="You have no API tokens. Create one: `platform tokens create NAME`.",
            name="tokens",
        )
        self.audit = PagedTable(
            lambda: p.audit.list(
                user=self.audit_user or None,
                action=self.audit_action or None,
                project=self.audit_project or None,
            ),
            ["at", "actor_name", "action", "target_type", "target_id", "client_addr"],
            empty="No audit entries match the filters.",
            name="audit",
        )
        for table in self.tables:
            table.reload()

    @property
    def tables(self) -> list[PagedTable]:
        return [self.users, self.roles, self.bindings, self.delegations, self.tokens, self.audit]

    @param.depends("user_query", "user_kind", watch=True)
    def _users(self) -> None:
        self.users.reload()

    @param.depends("binding_user", watch=True)
    def _bindings(self) -> None:
        self.bindings.reload()

    @param.depends("delegation_active", watch=True)
    def _delegations(self) -> None:
        self.delegations.reload()

    @param.depends("audit_user", "audit_action", "audit_project", watch=True)
    def _audit(self) -> None:
        self.audit.reload()

    def layout(self) -> pn.viewable.Viewable:
        p = self.param
        return pn.Tabs(
            pn.Column(
                pn.Row(
                    pn.widgets.TextInput.from_param(p.user_query, label="Search users"),
                    pn.widgets.Select.from_param(p.user_kind, label="Kind"),
                ),
                self.users,
                name="Users",
            ),
            pn.Column(self.roles, name="Roles"),
            pn.Column(
                pn.widgets.TextInput.from_param(p.binding_user, label="User"),
                self.bindings,
                name="Bindings",
            ),
            pn.Column(
                pn.widgets.Select.from_param(p.delegation_active, label="Show"),
                self.delegations,
                name="Delegations",
            ),
            pn.Column(self.tokens, name="Tokens"),
            pn.Column(
                pn.Row(
                    pn.widgets.TextInput.from_param(p.audit_user, label="User"),
                    pn.widgets.TextInput.from_param(p.audit_action, label="Action prefix"),
                    pn.widgets.TextInput.from_param(p.audit_project, label="Project"),
                ),
                self.audit,
                name="Audit log",
            ),
            dynamic=False,
            sizing_mode="stretch_width",
        )
