"""history_entries: one entry per write that changed a prompt or a guardrail pool

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db.types import UTCDateTime

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "history_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("entity_kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("actor_subject", sa.String(length=255), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_name", sa.String(length=255), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "org_id", "entity_kind", "entity_id", "version", name="uq_history_entries_entity"
        ),
    )
    op.create_index("ix_history_entries_recorded_at", "history_entries", ["recorded_at"])
    if op.get_bind().dialect.name == "postgresql":
        # Subscriptions: every entry NOTIFYs inside the transaction that writes it, so there
        # is no event without a commit and no commit without its event (gateway/changes/).
        # NOTIFY serializes the commits of the transactions that send it: it is sent only
        # while some process listens (a row here, refreshed while its LISTEN lives).
        op.create_table(
            "change_listeners",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


# Channel patchbay_changes; a listener refreshes its row every 30 s (gateway/changes/).
NOTIFY_FUNCTION = """
CREATE FUNCTION patchbay_notify_change() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM change_listeners WHERE seen_at > now() - interval '90 seconds') THEN
    PERFORM pg_notify('patchbay_changes', json_build_object(
      'org', NEW.org_id, 'kind', NEW.entity_kind, 'id', NEW.entity_id, 'version', NEW.version
    )::text);
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER history_entries_notify AFTER INSERT ON history_entries
FOR EACH ROW EXECUTE FUNCTION patchbay_notify_change()
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER history_entries_notify ON history_entries")
        op.execute("DROP FUNCTION patchbay_notify_change()")
        op.drop_table("change_listeners")
    op.drop_index("ix_history_entries_recorded_at", table_name="history_entries")
    op.drop_table("history_entries")
