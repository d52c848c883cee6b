"""Database tables, repositories, migrations and the blob store."""
