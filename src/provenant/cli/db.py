"""`provenant db ...`: schema migrations for server databases."""
from __future__ import annotations

from provenant.cli.app import console, db_app
from provenant.config import get_settings
from provenant.store.database import create_db_engine, current_revision, head_revision, upgrade


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to PROVENANT_DATABASE_URL."""
    engine = create_db_engine(get_settings().database_url)
    revision = upgrade(engine)
    console.print(f"database at schema {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema revision and the code's."""
    engine = create_db_engine(get_settings().database_url)
    console.print(f"database: {current_revision(engine) or 'empty'}; code: {head_revision()}")
