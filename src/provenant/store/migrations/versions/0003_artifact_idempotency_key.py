"""idempotency key (workflow_id, execution_id, step_name, name) on artifacts

Revision ID: 0003
Revises: 0002

Unique where every part is set, except on rows imported from the previous system
(`imported`), which repeats keys. Rows imported before this revision cannot be told
apart any more: a key they repeat is reported, and the upgrade stops without a change.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

KEY = ['workflow_id', 'execution_id', 'step_name', 'name']
KEYED = sa.text('imported = false AND '
                + ' AND '.join(f'{column} IS NOT NULL' for column in KEY))


def upgrade() -> None:
    duplicates = op.get_bind().execute(sa.text(
        f"SELECT {', '.join(KEY)}, COUNT(*) AS n FROM artifacts "
        f"WHERE {' AND '.join(f'{column} IS NOT NULL' for column in KEY)} "
        f"GROUP BY {', '.join(KEY)} HAVING COUNT(*) > 1")).fetchall()
    if duplicates:
        shown = '; '.join(f'{tuple(row[:4])} x{row[4]}' for row in duplicates[:5])
        raise RuntimeError(
            f'{len(duplicates)} (workflow_id, execution_id, step_name, name) keys are held by '
            f'more than one artifact (e.g. {shown}): set imported = true on rows imported '
            'from the previous system, or keep one row of a duplicate, then upgrade again')
    with op.batch_alter_table('artifacts') as batch:
        batch.add_column(sa.Column('imported', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_index('uq_artifacts_idempotency_key', 'artifacts', KEY, unique=True,
                    postgresql_where=KEYED, sqlite_where=KEYED)


def downgrade() -> None:
    op.drop_index('uq_artifacts_idempotency_key', table_name='artifacts')
    with op.batch_alter_table('artifacts') as batch:
        batch.drop_column('imported')
