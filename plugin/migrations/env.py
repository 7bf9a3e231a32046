"""Alembic environment: runs on the connection the caller hands in."""

from alembic import context
from sqlalchemy import create_engine

from plugin.store.models import Base, UTCDateTime

config = context.config
connection = config.attributes.get("connection")


def render_item(kind, obj, autogen_context):
    """Render the UTC datetime column type as a plain DateTime in migration scripts."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def run(conn) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_item=render_item,
                      render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        run(conn)
        conn.commit()
