"""LTI launch state

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 20:40:00.000000

OIDC states, nonces and launch data live in the database, so the login and the launch of one
LTI launch may be served by different processes or hosts.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('lti_state',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index('ix_lti_state_expires_at', 'lti_state', ['expires_at'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_lti_state_expires_at', table_name='lti_state')
    op.drop_table('lti_state')
