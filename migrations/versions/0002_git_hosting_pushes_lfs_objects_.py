"""Git hosting: pushes, LFS objects, protected branches, notification preferences.

Revision ID: 0002
Create Date: 2026-11-26 20:06:52.457946
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_sdk.core.types

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("channels", platform_sdk.core.types.StringList(), nullable=False),
        sa.Column("webhook_url", sa.String(length=2048), nullable=True),
        sa.Column("updated_at", platform_sdk.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "lfs_objects",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", platform_sdk.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_lfs_objects_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "oid", name=op.f("pk_lfs_objects")),
    )
    op.create_table(
        "pushes",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("pusher_id", sa.Uuid(), nullable=True),
        sa.Column("ref", sa.String(length=1024), nullable=False),
        sa.Column("before", sa.String(length=64), nullable=False),
        sa.Column("after", sa.String(length=64), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("commit_count", sa.Integer(), nullable=False),
        sa.Column("created_at", platform_sdk.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_pushes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pusher_id"], ["users.id"], name=op.f("fk_pushes_pusher_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushes")),
    )
    with op.batch_alter_table("pushes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pushes_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_pushes_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pushes_pusher_id"), ["pusher_id"], unique=False)

    _channel_check(["inbox", "email", "webhook"], old_length=13, new_length=15)

    # Existing projects get an empty list; the server default is dropped again so the
    # column matches the model (defaults live in the application).
    empty = "'{}'" if op.get_bind().dialect.name == "postgresql" else "'[]'"
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "protected_branches",
                platform_sdk.core.types.StringList(),
                nullable=False,
                server_default=sa.text(empty),
            )
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.alter_column("protected_branches", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("protected_branches")

    op.execute("DELETE FROM notifications WHERE channel = 'webhook'")
    _channel_check(["inbox", "email"], old_length=15, new_length=13)

    with op.batch_alter_table("pushes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pushes_pusher_id"))
        batch_op.drop_index(batch_op.f("ix_pushes_project_id"))
        batch_op.drop_index("ix_pushes_project_created")

    op.drop_table("pushes")
    op.drop_table("lfs_objects")
    op.drop_table("notification_preferences")


def _channel_check(values: list[str], *, old_length: int, new_length: int) -> None:
    """Replace the CHECK of notifications.channel (non-native enums are a VARCHAR + CHECK)."""
    allowed = ", ".join(f"'{v}'" for v in values)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_ck_notificationchannel"), type_="check")
        batch_op.alter_column(
            "channel",
            existing_type=sa.String(length=old_length),
            type_=sa.String(length=new_length),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            op.f("ck_notifications_ck_notificationchannel"), f"channel IN ({allowed})"
        )
