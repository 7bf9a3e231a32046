"""sign-in failures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:40:00.000000

Failed page sign-ins per client address, so every web process sees the same rate limit.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'sign_in_failures',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('address', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_sign_in_failures_address_at', 'sign_in_failures', ['address', 'at'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_sign_in_failures_address_at', table_name='sign_in_failures')
    op.drop_table('sign_in_failures')
