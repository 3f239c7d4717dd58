"""history_entries: keyed by the entity's version, without a foreign key or a uuid

Every changing write inserts an entry, in its own statement on PostgreSQL, and pays for
each index and constraint of this table. The uuid `id` was read by nothing but pruning and
cost an index of random keys; the entity's version is the key (one entry per version, as
the unique constraint said, and the index Prompt.history reads). The foreign key to
organizations checked (and share-locked) the organization's row on every write, although
org_id is copied from the entity's row, whose own foreign key checks it. And the NOTIFY of
0005's trigger (a plpgsql call and its query per entry) is now sent by the write's statement
itself, in the entry's RETURNING (db/history.py, one_statement): still in the write's
transaction, only while some process listens.

On PostgreSQL the `id` column stays, nullable and unindexed, so that replicas still running
the code before this migration keep writing and reading entries during a rolling upgrade
(their writes send no NOTIFY once the trigger is gone: subscribers miss those changes until
every replica runs the new code). SQLite, one process, copies the table without it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import SchemaItem

from db.types import UTCDateTime

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ["org_id", "entity_kind", "entity_id", "version"]
COPY = (
    "INSERT INTO history_entries_new (org_id, entity_kind, entity_id, version, changes, "
    "actor_subject, actor_kind, actor_name, request_id, recorded_at) "
    "SELECT org_id, entity_kind, entity_id, version, changes, "
    "actor_subject, actor_kind, actor_name, request_id, recorded_at FROM history_entries"
)
# back, with a uuid as SQLite stores one (32 hex digits) for each entry
COPY_WITH_ID = (
    "INSERT INTO history_entries_new (id, org_id, entity_kind, entity_id, version, changes, "
    "actor_subject, actor_kind, actor_name, request_id, recorded_at) "
    "SELECT lower(hex(randomblob(16))), org_id, entity_kind, entity_id, version, changes, "
    "actor_subject, actor_kind, actor_name, request_id, recorded_at FROM history_entries"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER history_entries_notify ON history_entries")
        op.execute("DROP FUNCTION patchbay_notify_change()")
        op.drop_constraint("history_entries_org_id_fkey", "history_entries", type_="foreignkey")
        op.drop_constraint("uq_history_entries_entity", "history_entries", type_="unique")
        op.drop_constraint("history_entries_pkey", "history_entries", type_="primary")
        # Kept, without a value from the new code: replicas still running 0005's code during
        # a rolling upgrade (docs/deploy.md) write and read it. A later migration drops it.
        op.alter_column("history_entries", "id", existing_type=sa.Uuid(), nullable=True)
        op.create_primary_key("pk_history_entries", "history_entries", KEY)
        return
    # SQLite alters a key only by copying the table (its foreign key has no name to drop).
    _copy(_table(with_id=False), COPY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_history_entries", "history_entries", type_="primary")
        op.execute("UPDATE history_entries SET id = gen_random_uuid() WHERE id IS NULL")
        op.alter_column("history_entries", "id", existing_type=sa.Uuid(), nullable=False)
        op.create_primary_key("history_entries_pkey", "history_entries", ["id"])
        op.create_unique_constraint("uq_history_entries_entity", "history_entries", KEY)
        op.create_foreign_key(
            "history_entries_org_id_fkey", "history_entries", "organizations", ["org_id"], ["id"]
        )
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)
        return
    _copy(_table(with_id=True), COPY_WITH_ID)


# 0005's, back on a downgrade
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


def _table(*, with_id: bool) -> list[SchemaItem]:
    columns: list[SchemaItem] = [
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
    ]
    if not with_id:
        return [*columns, sa.PrimaryKeyConstraint(*KEY, name="pk_history_entries")]
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*KEY, name="uq_history_entries_entity"),
    ]


def _copy(new: list[SchemaItem], copy: str) -> None:
    """SQLite: the entries into a table of the new shape, which then takes the old one's name."""
    op.create_table("history_entries_new", *new)
    op.execute(copy)
    op.drop_index("ix_history_entries_recorded_at", table_name="history_entries")
    op.drop_table("history_entries")
    op.rename_table("history_entries_new", "history_entries")
    op.create_index("ix_history_entries_recorded_at", "history_entries", ["recorded_at"])
