"""Statements of the hottest read paths compiled once per dialect and run on the driver's own
cursor, with SQLAlchemy's type conversions and error handling kept."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

# Why: Connection.execute spends most of a small read's time on work that is the same for
# every call of a statement (its cache key, an execution context, result metadata and events):
# about 0.3 ms a statement on PostgreSQL and 0.15 ms on SQLite on the 2-core benchmark machine,
# against 0.1 ms for the driver's own execution. A technician's day and a tracking link are
# read thousands of times a minute; everything else keeps using SQLAlchemy as usual.

Processor = Callable[[Any], Any] | None


def one_of(column: sa.ColumnElement[Any], values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """``column IN (...)`` with one bound parameter per value: a plain list would become an
    expanding parameter, rendered anew at each execution, which a Prepared refuses."""
    return column.in_([sa.literal(value, column.type) for value in values])


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # parameter order for positional drivers; None: by name
    defaults: dict[str, Any]  # values bound in the statement itself, converted
    binds: dict[str, Processor]  # converters of the values a caller gives
    types: tuple[sa.types.TypeEngine[Any], ...]
    row: type


class Prepared:
    """A SELECT (or a UNION of them) compiled once per dialect; ``rows`` runs it on the
    connection's driver cursor and returns named tuples whose values went through the column
    types' result processors, exactly as Connection.execute would return them (tested on both
    databases). Parameters are named as the statement's bindparams; expanding ones (IN with a
    plain list) are refused: use one_of."""

    def __init__(self, statement: sa.Select[Any] | sa.CompoundSelect[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        # Result processors (by column) depend on the driver's column types, known after a
        # first run.
        self._results: dict[str, tuple[tuple[int, Callable[[Any], Any]], ...]] = {}

    def _compile(self, dialect: sa.Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("Prepared statements take no expanding parameters; use one_of")
        parameters = {name: bind for bind, name in compiled.bind_names.items()}
        binds = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in parameters.items()
        }
        # Values bound in the statement itself are converted once, here.
        fixed = {
            name: bind.effective_value
            for name, bind in parameters.items()
            if not bind.required and bind.effective_value is not None
        }
        selected = self.statement.selected_columns
        return _Compiled(
            sql=compiled.string,
            names=tuple(compiled.positiontup or ()) if dialect.positional else None,
            defaults={
                name: value if (process := binds[name]) is None else process(value)
                for name, value in fixed.items()
            },
            binds={name: process for name, process in binds.items() if name not in fixed},
            types=tuple(column.type.dialect_impl(dialect) for column in selected),
            row=namedtuple("Row", list(selected.keys())),  # type: ignore[misc]
        )

    def rows(self, connection: sa.Connection | Session, params: Mapping[str, Any]) -> list[Any]:
        """The statement's rows for ``params``. On a session, in its transaction; on a plain
        connection outside a transaction, as the driver runs a lone statement (its own
        snapshot). A driver error is raised as SQLAlchemy's DBAPIError, and a dropped
        connection is invalidated, as Connection.execute does."""
        if isinstance(connection, Session):
            connection = connection.connection()
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        values = dict(compiled.defaults)
        for name, value in params.items():
            process = compiled.binds[name]
            values[name] = value if process is None else process(value)
        arguments: Any = (
            values if compiled.names is None else tuple(values[n] for n in compiled.names)
        )
        pooled = connection.connection
        cursor = pooled.cursor()
        try:
            cursor.execute(compiled.sql, arguments)
            fetched = cursor.fetchall()
            description = cursor.description
        except dialect.loaded_dbapi.Error as exc:
            disconnected = dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
            if disconnected:
                connection.invalidate(exc)
            raise sa.exc.DBAPIError.instance(
                compiled.sql,
                arguments,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=disconnected,
                dialect=dialect,
            ) from exc
        finally:
            cursor.close()
        processors = self._results.get(dialect.name)
        if processors is None:
            processors = self._results[dialect.name] = tuple(
                (i, process)
                for i, (type_, column) in enumerate(zip(compiled.types, description, strict=True))
                if (process := type_.result_processor(dialect, column[1])) is not None
            )
        make = compiled.row._make
        if not processors:
            return [make(row) for row in fetched]
        rows = []
        for row in fetched:
            values = list(row)
            # NULL stays None: no column type here reads it as anything else, and a union's
            # padding is mostly NULLs.
            for i, process in processors:
                if (value := values[i]) is not None:
                    values[i] = process(value)
            rows.append(make(values))
        return rows
