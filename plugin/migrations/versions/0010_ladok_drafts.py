"""ladok drafts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:00:00.000000

In "drafts" mode each ledger key records what Ladok holds for it: the ledger version Ladok
confirmed as a draft, its result UID, its state as of the last run (utkast, klarmarkerad,
attesterad) and the last refusal or hand-work note.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'ladok_drafts',
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('ladok_code', sa.String(length=50), nullable=False),
        sa.Column('component_code', sa.String(length=50), nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('result_uid', sa.String(length=64), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=True),
        sa.Column('grade', sa.String(length=20), nullable=True),
        sa.Column('exam_date', sa.String(length=10), nullable=True),
        sa.Column('attested_on', sa.String(length=10), nullable=True),
        sa.Column('problem', sa.Text(), nullable=True),
        sa.Column('problem_version', sa.Integer(), nullable=True),
        sa.Column('run_id', sa.BigInteger(), nullable=True),
        sa.Column('checked_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('user_id', 'ladok_code', 'component_code'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('ladok_drafts')
