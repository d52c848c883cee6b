"""artifact_revisions: recorded changes of content after store time (append-only), and
artifacts.sealed_by_run (the run whose manifest records the artifact's hash)

Revision ID: 0006
Revises: 0005

A PATCH of payload fields (or an image attached to a chart that had none) re-computes the
artifact's content hash and records old hash, new hash, what changed and when here, so
`lineage verify` can tell a recorded revision from a direct edit. Triggers refuse UPDATE and
DELETE on the table: revisions are evidence, like the artifacts they explain. Artifacts whose
run logged its manifest before this revision have no `sealed_by_run`; a PATCH then reads the
manifest from MLflow to find out.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
REFUSED = 'artifact_revisions is append-only'


def upgrade() -> None:
    with op.batch_alter_table('artifacts') as batch:
        batch.add_column(sa.Column('sealed_by_run', sa.String(64)))
    op.create_table(
        'artifact_revisions',
        sa.Column('id', Id, nullable=False, autoincrement=True),
        sa.Column('artifact_id', Id, nullable=False),
        sa.Column('old_sha256', sa.String(64)),
        sa.Column('new_sha256', sa.String(64)),
        sa.Column('changed', sa.JSON(), nullable=False),
        sa.Column('source', sa.String(16), nullable=False),
        sa.Column('revised_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_artifact_revisions'),
    )
    op.create_index('ix_artifact_revisions_artifact_id_id', 'artifact_revisions',
                    ['artifact_id', 'id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""CREATE FUNCTION artifact_revisions_append_only() RETURNS trigger
                       LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{REFUSED}'; END $$""")
        op.execute("""CREATE TRIGGER artifact_revisions_append_only
                      BEFORE UPDATE OR DELETE ON artifact_revisions
                      FOR EACH ROW EXECUTE FUNCTION artifact_revisions_append_only()""")
    else:
        for event in ('UPDATE', 'DELETE'):
            op.execute(f"""CREATE TRIGGER artifact_revisions_no_{event.lower()}
                           BEFORE {event} ON artifact_revisions
                           BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER artifact_revisions_append_only ON artifact_revisions')
        op.execute('DROP FUNCTION artifact_revisions_append_only()')
    op.drop_index('ix_artifact_revisions_artifact_id_id', table_name='artifact_revisions')
    op.drop_table('artifact_revisions')
    with op.batch_alter_table('artifacts') as batch:
        batch.drop_column('sealed_by_run')
