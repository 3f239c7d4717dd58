"""prompts: fillfactor 90 on PostgreSQL

An update that finds room on its row's page stays there (a HOT update: no new index
entries). At fillfactor 100 a freshly loaded page has none, so the first update of every
page moves its row and writes three index entries; with a million rows that was most
updates of a run, and its p99 latency 4x that of a table whose pages had been updated
before. Rows stored after this migration get the room; rewrite an existing table
(VACUUM FULL, or pg_repack online) to give its pages the room too.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE prompts SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE prompts RESET (fillfactor)")
