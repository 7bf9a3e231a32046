"""partial event indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 00:50:00.000000

The webhook's insert no longer updates indexes no query reads: the per-submission index goes,
the course index covers only ignored events (the replay of a newly configured course reads it)
and the pending index only events not yet applied.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PENDING = sa.text("applied = false")
IGNORED = sa.text("status = 'ignored'")


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index('ix_events_submission', table_name='events')
    op.drop_index('ix_events_course_id', table_name='events')
    op.drop_index('ix_events_pending', table_name='events')
    op.create_index('ix_events_pending', 'events', ['id'],
                    sqlite_where=PENDING, postgresql_where=PENDING)
    op.create_index('ix_events_ignored', 'events', ['course_id'],
                    sqlite_where=IGNORED, postgresql_where=IGNORED)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_events_ignored', table_name='events')
    op.drop_index('ix_events_pending', table_name='events')
    op.create_index('ix_events_pending', 'events', ['applied', 'id'])
    op.create_index('ix_events_course_id', 'events', ['course_id'])
    op.create_index('ix_events_submission', 'events', ['course_id', 'assignment_id', 'user_id'])
