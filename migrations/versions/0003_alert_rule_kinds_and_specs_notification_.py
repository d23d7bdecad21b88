"""Alert rule kinds and specs (metric / log / sql, the ``absent`` comparator); notification
retries (attempts, next attempt, last error).

Revision ID: 0003
Create Date: 2026-11-26 22:29:43.026486
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import platform_sdk.core.types

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPARATORS = ("gt", "ge", "lt", "le", "eq", "ne")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=14), nullable=False, server_default="sql")
        )
        batch_op.add_column(
            sa.Column(
                "spec", platform_sdk.core.types.JSONType(), nullable=False, server_default="{}"
            )
        )
        batch_op.drop_constraint(op.f("ck_alert_rules_ck_comparator"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_alert_rules_ck_comparator"), _in("comparator", (*COMPARATORS, "absent"))
        )
        batch_op.create_check_constraint(
            op.f("ck_alert_rules_ck_alertkind"), _in("kind", ("metric", "log", "sql"))
        )
        batch_op.alter_column("comparator", existing_type=sa.String(length=10), type_=sa.String(14))

    # the defaults only filled existing rows; new rows get theirs from the application
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=14), server_default=None)
        batch_op.alter_column(
            "spec", existing_type=platform_sdk.core.types.JSONType(), server_default=None
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column(
                "next_attempt_at", platform_sdk.core.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")

    op.execute("DELETE FROM alert_rules WHERE comparator = 'absent' OR kind <> 'sql'")
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alert_rules_ck_alertkind"), type_="check")
        batch_op.drop_constraint(op.f("ck_alert_rules_ck_comparator"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_alert_rules_ck_comparator"), _in("comparator", COMPARATORS)
        )
        batch_op.alter_column("comparator", existing_type=sa.String(length=14), type_=sa.String(10))
        batch_op.drop_column("spec")
        batch_op.drop_column("kind")
