"""versions of prompts and pools; idempotency keys

`version` counts the writes that changed a row: existing rows start at 1. The
idempotency_keys table keeps a mutation's answer for a retry with the same key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("prompts", "guardrail_pools"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("version", sa.Integer(), nullable=False, server_default="1")
            )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("principal", sa.String(length=600), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("principal", "key", name="uq_idempotency_keys_principal_key"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    for table in ("prompts", "guardrail_pools"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("version")
