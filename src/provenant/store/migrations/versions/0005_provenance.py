"""derivation edges (artifact_inputs) and content hashes (artifacts.content_sha256)

Revision ID: 0005
Revises: 0003

Rows stored before this revision keep a NULL hash: hashing them now would vouch for
content nobody checked at store time, so they read as "unverifiable".
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('artifacts') as batch:
        batch.add_column(sa.Column('content_sha256', sa.String(64)))
    op.create_table(
        'artifact_inputs',
        sa.Column('artifact_id', Id, nullable=False),
        sa.Column('input_id', Id, nullable=False),
        sa.Column('inferred', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint('artifact_id', 'input_id', name='pk_artifact_inputs'),
    )
    op.create_index('ix_artifact_inputs_input_id_artifact_id', 'artifact_inputs',
                    ['input_id', 'artifact_id'])


def downgrade() -> None:
    op.drop_index('ix_artifact_inputs_input_id_artifact_id', table_name='artifact_inputs')
    op.drop_table('artifact_inputs')
    with op.batch_alter_table('artifacts') as batch:
        batch.drop_column('content_sha256')
