"""The migrations are the schema: applying them gives exactly the models, on both engines."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import dispatch.models  # noqa: F401  (registers every table)
from dispatch import db


def _differences(url: str) -> list[object]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()


def test_migration_head_matches_the_models(database_url: str) -> None:
    assert _differences(database_url) == []


def test_database_is_at_the_head_revision(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        assert db.current_revision(connection) == db.head_revision()


def test_downgrade_to_base_and_upgrade_again(empty_database_url: str) -> None:
    db.upgrade(empty_database_url)
    db.downgrade(empty_database_url, "base")
    engine = db.make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
            assert db.current_revision(connection) is None
    finally:
        engine.dispose()
    db.upgrade(empty_database_url)
    assert _differences(empty_database_url) == []


def test_every_table_is_created_by_a_migration(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert set(SQLModel.metadata.tables) <= tables
