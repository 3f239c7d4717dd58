"""organization_rate_limits: an organization's own rate limit

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organization_rate_limits",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.Column("restore_rate", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("org_id"),
    )


def downgrade() -> None:
    op.drop_table("organization_rate_limits")
