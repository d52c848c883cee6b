"""artifacts, execution runs and the lineage audit log

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('artifacts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=True),
    sa.Column('workflow_id', sa.String(length=250), nullable=True),
    sa.Column('execution_id', sa.String(length=250), nullable=True),
    sa.Column('step_name', sa.String(length=250), nullable=True),
    sa.Column('dag_id', sa.String(length=250), nullable=True),
    sa.Column('task_id', sa.String(length=250), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('experiment_id', sa.String(length=64), nullable=True),
    sa.Column('lineage_repaired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('image_key', sa.String(length=200), nullable=True),
    sa.Column('image_content_type', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts'))
    )
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifacts_execution_id_id'), ['execution_id', 'id'], unique=False)
        batch_op.create_index('ix_artifacts_missing_lineage', ['execution_id', 'id'], unique=False, postgresql_where=sa.text('run_id IS NULL'), sqlite_where=sa.text('run_id IS NULL'))
        batch_op.create_index(batch_op.f('ix_artifacts_run_id_id'), ['run_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifacts_symbol_id'), ['symbol', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifacts_type_id'), ['type', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifacts_workflow_id_id'), ['workflow_id', 'id'], unique=False)

    op.create_table('execution_runs',
    sa.Column('workflow_id', sa.String(length=250), nullable=False),
    sa.Column('execution_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('experiment_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('workflow_id', 'execution_id', name=op.f('pk_execution_runs'))
    )
    op.create_table('lineage_repairs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('artifact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('experiment_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('repaired_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lineage_repairs')),
    sa.UniqueConstraint('artifact_id', name=op.f('uq_lineage_repairs_artifact_id'))
    )


def downgrade() -> None:
    op.drop_table('lineage_repairs')
    op.drop_table('execution_runs')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifacts_workflow_id_id'))
        batch_op.drop_index(batch_op.f('ix_artifacts_type_id'))
        batch_op.drop_index(batch_op.f('ix_artifacts_symbol_id'))
        batch_op.drop_index(batch_op.f('ix_artifacts_run_id_id'))
        batch_op.drop_index('ix_artifacts_missing_lineage', postgresql_where=sa.text('run_id IS NULL'), sqlite_where=sa.text('run_id IS NULL'))
        batch_op.drop_index(batch_op.f('ix_artifacts_execution_id_id'))

    op.drop_table('artifacts')
