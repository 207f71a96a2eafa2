"""Alembic environment: the engine's metadata, the URL from the caller's config."""

from __future__ import annotations

from alembic import context

from engine.db import make_engine
from engine.models import Base
from web.models import WebBase

config = context.config
target_metadata = [Base.metadata, WebBase.metadata]


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    db = make_engine(str(config.get_main_option("sqlalchemy.url")))
    with db.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    db.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
