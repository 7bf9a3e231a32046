"""mail receipts and alerts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 20:40:00.000000

One row per (export run, course) e-mail receipt, sent once; one row per alert kind with the
time it was last sent.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'mail_receipts',
        sa.Column('id', ID, primary_key=True),
        sa.Column('run_id', ID, sa.ForeignKey('export_runs.id'), nullable=False),
        sa.Column('course_id', sa.BigInteger(), nullable=False),
        sa.Column('recipients', sa.Text(), nullable=False),
        sa.Column('held_back', sa.Text(), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.UniqueConstraint('run_id', 'course_id'),
    )
    op.create_index('ix_mail_receipts_state', 'mail_receipts', ['state', 'next_attempt_at'])
    op.create_table(
        'mail_alerts',
        sa.Column('kind', sa.String(50), primary_key=True),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('pending_since', sa.DateTime(), nullable=True),
        sa.Column('requested_at', sa.DateTime(), nullable=True),
        sa.Column('requests', sa.Integer(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('previous_sent_at', sa.DateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('mail_alerts')
    op.drop_index('ix_mail_receipts_state', table_name='mail_receipts')
    op.drop_table('mail_receipts')
