"""posted grades and name mappings

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 20:40:00.000000

Submissions keep the posted grades in a row with their first-posted times (a numeric grade
changed without changing its letter keeps its date), and the moments that assignments were
mapped to by name when a result using them was exported (kept through a rename).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('submissions', sa.Column('posted_grades', sa.Text(), nullable=True))
    op.create_table(
        'name_mappings',
        sa.Column('course_id', sa.BigInteger(), nullable=False),
        sa.Column('assignment_id', sa.BigInteger(), nullable=False),
        sa.Column('moment', sa.Integer(), nullable=False),
        sa.Column('name', sa.Text(), nullable=True),
        sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['export_runs.id']),
        sa.PrimaryKeyConstraint('course_id', 'assignment_id'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('name_mappings')
    op.drop_column('submissions', 'posted_grades')
