"""course change counter

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 21:30:00.000000

Each course counts the writes to its applied state (submissions, assignments, enrollments), so
the pages can tell cheaply whether a cached course view is still current.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('course_state', sa.Column('changes', sa.Integer(), server_default=sa.text('0'),
                                            nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('course_state') as batch:
        batch.drop_column('changes')
