"""Alembic environment: migrations run on the connection ``core.database.open_database`` hands over."""

from alembic import context

from core.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
