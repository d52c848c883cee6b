"""partial indexes for listing by lineage state (pending, repaired)

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

PENDING = sa.text('run_id IS NULL')
REPAIRED = sa.text('lineage_repaired_at IS NOT NULL')


def upgrade() -> None:
    op.create_index('ix_artifacts_pending', 'artifacts', ['id'],
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.create_index('ix_artifacts_repaired', 'artifacts', ['id'],
                    postgresql_where=REPAIRED, sqlite_where=REPAIRED)


def downgrade() -> None:
    op.drop_index('ix_artifacts_repaired', table_name='artifacts')
    op.drop_index('ix_artifacts_pending', table_name='artifacts')
