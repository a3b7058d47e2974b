"""Database tables as sources: PostgreSQL and SQLite through ADBC (the Arrow-native drivers),
DuckDB through its own Arrow interface.

    DatabaseSource(uri, table, where=None, schema=None)   a table (optionally filtered) as a Source
    TableName(name, schema=None)               a table name, in a schema when given
    connect(uri) -> Connection                 one open connection in the URI's dialect

URIs: ``postgresql://user:password@host:port/db`` (or ``postgres://``), ``sqlite:///path.db``
and ``duckdb:///path.duckdb``. After ``sqlite:///`` / ``duckdb:///`` comes the file's path:
relative to the working directory, or absolute when it starts with ``/``
(``sqlite:////tmp/leads.db``, as SQLAlchemy writes it). A file that does not exist is an error,
never a new empty database.

The rows are streamed in Arrow batches, never read whole, and only the columns asked for are
read (the projection is the SELECT). Names are always quoted by the dialect's own
:meth:`Connection.quote`, so a table or column called ``select``, ``Lead Source`` or
``x"; DROP TABLE leads; --`` is a name and nothing else. ``where`` is different by design: it
is the user's own SQL condition for their own database, pasted as ``WHERE (<where>)``.

SQLite has no column types of its own, and ADBC's SQLite driver infers each column's type from
the first batch (a column whose first rows are all NULL became int64 and then failed on a
REAL). The declared types (``PRAGMA table_info``) decide instead: INTEGER → int64,
REAL/FLOAT/DOUBLE/NUMERIC → float64, TEXT → string, BOOLEAN (0/1) → bool, DATE → date32 and
TIMESTAMP/DATETIME (ISO-8601 text, as SQLite's date functions write it; without a zone it is
UTC) → timestamp[us, UTC], so a model written for PostgreSQL scores the same SQLite table. The
query's first row is a literal of each column's storage class (dropped again), which pins the
driver's inference for every batch, and each batch is converted to the declared schema.
"""
from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from leadscore_fast.sources.base import Source
from leadscore_fast.suggest import did_you_mean

__all__ = ["DatabaseSource", "TableName", "Connection", "Column", "connect", "dialect_of", "redact",
           "driver_errors", "describe_error", "DEFAULT_BATCH_ROWS"]

# Rows per batch read, at most (PostgreSQL's driver sizes its batches by bytes: bigger ones
# are sliced).
DEFAULT_BATCH_ROWS = 1 << 17
# PostgreSQL: count(*) for the progress bar only when the planner thinks the table is smaller.
_COUNT_MAX_ESTIMATE = 5_000_000
_PG_BATCH_BYTES = 32 << 20


def _data_error(message: str):
    from leadscore_fast.errors import DataError

    return DataError(message)


def driver_errors() -> tuple:
    """The exception classes the database drivers raise (ADBC, DuckDB, Arrow streams)."""
    errors = [pa.ArrowException, OSError]
    try:
        import adbc_driver_manager

        errors.append(adbc_driver_manager.Error)
    except ImportError:
        pass
    try:
        import duckdb

        errors.append(duckdb.Error)
    except ImportError:
        pass
    return tuple(errors)


def describe_error(e: BaseException) -> str:
    """A driver error in one line: its message without the driver's prefixes, the SQL it
    echoes back or the SQLSTATE trailer."""
    text = str(e).strip() or type(e).__name__
    text = text.split("Query was:")[0].strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    text = lines[0] if lines else type(e).__name__
    text = re.sub(r"^(?:[A-Z_]+: )?(?:\[(?:libpq|SQLite|Postgres)\] )?", "", text)
    text = re.sub(r"^(?:Failed to execute query: )?(?:could not begin COPY: )?ERROR:\s*", "",
                  text)
    return text.rstrip(". ") or type(e).__name__


def redact(uri: str) -> str:
    """``uri`` without its password (how messages name a database)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def dialect_of(uri: str) -> str:
    """'postgres', 'sqlite' or 'duckdb' from a URI's scheme; DataError otherwise."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    dialect = {"postgresql": "postgres", "postgres": "postgres", "sqlite": "sqlite",
               "duckdb": "duckdb"}.get(scheme)
    if dialect is None:
        raise _data_error(f"{redact(uri)}: not a database URI (expected postgresql://..., "
                          "sqlite:///path.db or duckdb:///path.duckdb)")
    return dialect


@dataclass(frozen=True)
class TableName:
    """A table's name, in ``schema`` when one is given (PostgreSQL and DuckDB schemas, e.g.
    ``crm``.``leads``; SQLite has none). :meth:`Connection.quote` quotes each part on its own, so
    neither part can be confused with the dot between them; ``str()`` is ``schema.name``."""
    name: str
    schema: str | None = None

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def __repr__(self) -> str:
        return repr(str(self))

    def sibling(self, name: str) -> "TableName":
        """Another table in the same schema."""
        return TableName(name, self.schema)

    @staticmethod
    def of(table, schema: str | None = None) -> "TableName":
        """``table`` (a name or a TableName) in ``schema`` (None: as given)."""
        if isinstance(table, TableName):
            return table if schema is None else TableName(table.name, schema)
        return TableName(str(table), schema or None)


def _bare(table) -> str:
    return table.name if isinstance(table, TableName) else str(table)


def _schema_of(table) -> str | None:
    return table.schema if isinstance(table, TableName) else None


@dataclass(frozen=True)
class Column:
    """A column as a source reads it: its Arrow ``type``, the database's own type name
    (``declared``, for messages), how the SELECT reads it (``expr``, quoted) and, for SQLite,
    ``first``: a literal of its storage class for the query's pinning first row."""
    name: str
    type: pa.DataType
    declared: str
    expr: str
    first: str | None = None


class Connection:
    """One open connection and the operations reading and writing back need, in one dialect.
    Subclasses set the dialect's names for the types it writes and implement the driver calls."""

    dialect = ""
    float_type = "DOUBLE PRECISION"
    text_type = "TEXT"
    timestamp_type = "TIMESTAMP WITH TIME ZONE"

    def __init__(self, uri: str):
        self.uri = redact(uri)

    # -- quoting: every name goes through quote(), every text value through literal() -------
    def quote(self, name) -> str:
        """``name`` as a quoted identifier (ANSI: double quotes, doubled inside); a
        :class:`TableName` in a schema as ``"schema"."name"``."""
        if isinstance(name, TableName):
            return ".".join(self.quote(part) for part in (name.schema, name.name) if part)
        name = str(name)
        if "\x00" in name:
            raise _schema_error(f"{self.uri}: a name cannot contain a NUL character: {name!r}")
        return '"' + name.replace('"', '""') + '"'

    def literal(self, text: str) -> str:
        """``text`` as a string literal (single quotes, doubled inside)."""
        text = str(text)
        if "\x00" in text:
            raise _data_error(f"{self.uri}: a text value cannot contain a NUL character")
        return "'" + text.replace("'", "''") + "'"

    def timestamp_literal(self, iso_utc: str) -> str:
        return f"CAST({self.literal(iso_utc)} AS {self.timestamp_type})"

    # -- statements --------------------------------------------------------------------------
    def execute(self, sql: str) -> int:
        """Run one statement; the rows it changed (-1 when the driver does not say)."""
        raise NotImplementedError

    def query(self, sql: str) -> list[tuple]:
        raise NotImplementedError

    def stream(self, sql: str, batch_rows: int) -> pa.RecordBatchReader:
        """The result of a SELECT as a stream of batches."""
        raise NotImplementedError

    def ingest(self, table: str, data: pa.RecordBatchReader, *, temporary: bool) -> None:
        """Create ``table`` from the stream ``data`` (bulk: COPY, bound inserts, a scan)."""
        raise NotImplementedError

    def begin(self) -> None:
        """Start the transaction the next statements run in (ADBC connections are already in
        one: they are opened with autocommit off)."""

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- the catalog -------------------------------------------------------------------------
    def tables(self, schema: str | None = None) -> list[str]:
        """Names of the tables and views a bare name can refer to, or those of ``schema``
        (for "did you mean")."""
        raise NotImplementedError

    def columns(self, table: str) -> list[Column]:
        """The columns of ``table`` as they will be read; DataError naming a missing table."""
        try:
            reader = self.stream(f"SELECT * FROM {self.quote(table)} WHERE 1 = 0", 1)
            schema = reader.schema
            reader.close()
        except driver_errors() as e:
            self.rollback_quietly()
            self.missing_table(table, e)
        return [self.column(f) for f in schema]

    def column(self, field: pa.Field) -> Column:
        return Column(field.name, field.type, str(field.type), self.quote(field.name))

    def missing_table(self, table: str, e: BaseException | None):
        """Raise DataError for ``table``: missing (with a suggestion) or unreadable."""
        try:
            names = self.tables(_schema_of(table))
        except driver_errors():
            names = []
        if e is None or _bare(table) not in names:
            if "." in _bare(table) and _schema_of(table) is None:  # schema.table, meant
                schema, _, name = _bare(table).partition(".")
                hint = f" (for table {name!r} in schema {schema!r}: --schema {schema} " \
                       f"--table {name}, or schema={schema!r} in Python)"
            else:
                hint = did_you_mean(_bare(table), names)
            raise _data_error(f"{self.uri}: no table {table!r}{hint}") from None
        raise _data_error(f"{self.uri}: cannot read table {table!r}: {describe_error(e)}") \
            from None

    def unique_key(self, table: str, column: str) -> tuple[bool, bool]:
        """(whether a unique index or key on exactly ``column`` guarantees its values are
        unique, whether the column is NOT NULL). (False, False) when unknown."""
        return False, False

    def count_rows(self, table: str, where: str | None) -> int | None:
        return self.query(f"SELECT count(*) FROM {self.quote(table)}{where_sql(where)}")[0][0]

    def rollback_quietly(self) -> None:
        try:
            self.rollback()
        except driver_errors():
            pass


def where_sql(where: str | None) -> str:
    """`` WHERE (<where>)``: the user's own SQL condition (see the module docstring)."""
    return f" WHERE ({where})" if where and where.strip() else ""


def _schema_error(message: str):
    from leadscore_fast.errors import SchemaError

    return SchemaError(message)


# -- ADBC (PostgreSQL, SQLite) -----------------------------------------------------------------

class _Adbc(Connection):
    def __init__(self, uri: str, conn):
        super().__init__(uri)
        self.conn = conn

    def execute(self, sql: str) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return cur.rowcount if cur.rowcount is not None else -1

    def query(self, sql: str) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def stream(self, sql: str, batch_rows: int) -> pa.RecordBatchReader:
        cur = self.conn.cursor()
        self.set_batch_size(cur, batch_rows)
        cur.execute(sql)
        reader = cur.fetch_record_batch()
        return pa.RecordBatchReader.from_batches(reader.schema, _closing(reader, cur))

    def set_batch_size(self, cur, batch_rows: int) -> None:
        pass

    def ingest(self, table: str, data: pa.RecordBatchReader, *, temporary: bool) -> None:
        with self.conn.cursor() as cur:
            cur.adbc_ingest(_bare(table), data, mode="create", temporary=temporary,
                            db_schema_name=_schema_of(table))

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        try:
            self.conn.close()
        except driver_errors():
            pass


def _closing(reader, cur) -> Iterator[pa.RecordBatch]:
    try:
        yield from reader
    finally:
        try:
            cur.close()
        except driver_errors():
            pass


class _Postgres(_Adbc):
    dialect = "postgres"

    def quote(self, name) -> str:
        # PostgreSQL silently truncates longer names to 63 bytes: it would read another table.
        if isinstance(name, TableName):
            return super().quote(name)  # back here for each part
        if len(str(name).encode()) > 63:
            raise _schema_error(f"{self.uri}: name longer than PostgreSQL's 63 bytes: {name!r}")
        return super().quote(name)

    def literal(self, text: str) -> str:
        # An E'' literal means the same whatever standard_conforming_strings is set to.
        text = str(text)
        if "\x00" in text:
            raise _data_error(f"{self.uri}: a text value cannot contain a NUL character")
        return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

    def set_batch_size(self, cur, batch_rows: int) -> None:
        cur.adbc_statement.set_options(
            **{"adbc.postgresql.batch_size_hint_bytes": str(_PG_BATCH_BYTES)})

    def tables(self, schema: str | None = None) -> list[str]:
        where = "= ANY (current_schemas(false))" if schema is None else \
            f"= {self.literal(schema)}"
        return [r[0] for r in self.query(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema {where}")]

    def columns(self, table: str) -> list[Column]:
        if self.query(f"SELECT to_regclass({self.literal(self.quote(table))}) IS NULL")[0][0]:
            self.missing_table(table, None)
        return super().columns(table)

    def column(self, field: pa.Field) -> Column:
        pg_type = (field.metadata or {}).get(b"POSTGRESQL:type", b"").decode()
        if pg_type == "numeric":  # the driver gives numeric as text: read it as float64
            return Column(field.name, pa.float64(), pg_type,
                          f"CAST({self.quote(field.name)} AS DOUBLE PRECISION)")
        arrow = field.type  # extension types (json, uuid, ...) as their storage: json is text
        return Column(field.name, arrow.storage_type if isinstance(arrow, pa.BaseExtensionType)
                      else arrow, pg_type or str(arrow), self.quote(field.name))

    def unique_key(self, table: str, column: str) -> tuple[bool, bool]:
        rel = f"to_regclass({self.literal(self.quote(table))})"
        rows = self.query(
            "SELECT a.attnotnull, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid"
            " AND i.indisunique AND i.indnatts = 1 AND i.indkey[0] = a.attnum"
            " AND i.indpred IS NULL) FROM pg_attribute a"
            f" WHERE a.attrelid = {rel} AND a.attname = {self.literal(column)}")
        return (bool(rows[0][1]), bool(rows[0][0])) if rows else (False, False)

    def count_rows(self, table: str, where: str | None) -> int | None:
        rel = f"to_regclass({self.literal(self.quote(table))})"
        estimate = self.query(f"SELECT reltuples FROM pg_class WHERE oid = {rel}")
        if not estimate or estimate[0][0] is None or estimate[0][0] > _COUNT_MAX_ESTIMATE:
            return None  # counting would be a scan of a big table, for a progress bar
        return super().count_rows(table, where)


class _SQLite(_Adbc):
    dialect = "sqlite"
    float_type = "REAL"
    timestamp_type = "TIMESTAMP"

    def execute(self, sql: str) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            if sql.lstrip()[:6].upper() not in ("UPDATE", "INSERT", "DELETE"):
                return -1
            cur.execute("SELECT changes()")  # the driver does not count changed rows
            return cur.fetchone()[0]

    def timestamp_literal(self, iso_utc: str) -> str:
        # SQLite's own layout (``datetime('now', 'subsec')``), UTC: read back as a timestamp.
        return self.literal(iso_utc.replace("T", " ").replace("+00:00", "").rstrip("Z"))

    def set_batch_size(self, cur, batch_rows: int) -> None:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})

    def tables(self, schema: str | None = None) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "UNION ALL SELECT name FROM sqlite_temp_master WHERE type IN ('table', 'view')")]

    def columns(self, table: str) -> list[Column]:
        rows = self.query(f"SELECT name, type FROM pragma_table_info({self.literal(table)})")
        if not rows:
            self.missing_table(table, None)
        return [sqlite_column(name, declared or "", self.quote(name))
                for name, declared in rows]

    def unique_key(self, table: str, column: str) -> tuple[bool, bool]:
        info = self.query(f"SELECT name, type, \"notnull\", pk FROM "
                          f"pragma_table_info({self.literal(table)})")
        col = [r for r in info if r[0] == column]
        if not col:
            return False, False
        not_null = bool(col[0][2])
        pks = [r for r in info if r[3]]
        if len(pks) == 1 and pks[0][0] == column:
            # INTEGER PRIMARY KEY is the rowid: unique and never NULL
            return True, not_null or (pks[0][1] or "").upper() == "INTEGER"
        for name, unique, partial in self.query(
                f"SELECT name, \"unique\", partial FROM pragma_index_list({self.literal(table)})"):
            if unique and not partial:
                cols = self.query(f"SELECT name FROM pragma_index_info({self.literal(name)})")
                if [c[0] for c in cols] == [column]:
                    return True, not_null
        return False, not_null


# SQLite: declared type → (Arrow type, first-row literal); the type names SQLite itself gives
# no meaning first, then its affinity rules (https://sqlite.org/datatype3.html §3.1).
def sqlite_column(name: str, declared: str, expr: str) -> Column:
    base = re.split(r"[\s(]", declared.strip().upper(), maxsplit=1)[0] if declared else ""
    upper = declared.upper()
    if base in ("BOOL", "BOOLEAN"):
        arrow, first = pa.bool_(), "0"
    elif base == "DATE":
        arrow, first = pa.date32(), "''"
    elif base in ("DATETIME", "TIMESTAMP", "TIMESTAMPTZ"):
        arrow, first = pa.timestamp("us", tz="UTC"), "''"
    elif "INT" in upper:
        arrow, first = pa.int64(), "0"
    elif any(s in upper for s in ("CHAR", "CLOB", "TEXT")) or not upper:
        arrow, first = pa.string(), "''"
    elif "BLOB" in upper:
        arrow, first = pa.binary(), "X''"
    else:  # REAL, FLOAT, DOUBLE and NUMERIC affinity
        arrow, first = pa.float64(), "0.0"
    return Column(name, arrow, declared or "(no type)", expr, first)


# A zone after the time of day (a date's "-01" is not one).
_ZONE = r"[T ]\d\d:\d\d(?::\d\d(?:\.\d*)?)?\s*(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"


def sqlite_convert(array: pa.Array, col: Column) -> pa.Array:
    """One column of a SQLite batch as ``col.type`` (ValueError naming the bad value)."""
    if array.type == col.type:
        return array
    try:
        if pa.types.is_timestamp(col.type):
            return _parse_timestamps(array.cast(pa.string()))
        if pa.types.is_date32(col.type):
            return pc.utf8_slice_codeunits(array.cast(pa.string()), 0, 10).cast(pa.date32())
        return array.cast(col.type)  # int64 → bool, text → float64, integral float → int64
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ValueError(f"column {col.name!r} (declared {col.declared}) holds a value that "
                         f"is not a {_KIND.get(str(col.type), col.type)}: "
                         f"{describe_error(e)}") from None


_KIND = {"timestamp[us, tz=UTC]": "timestamp (ISO-8601 text)", "date32[day]":
         "date (ISO-8601 text)", "bool": "boolean (0/1)", "int64": "integer",
         "double": "number"}


def _parse_timestamps(text: pa.Array) -> pa.Array:
    """ISO-8601 text as timestamp[us, UTC]: with a zone as given, without one as UTC."""
    utc = pa.timestamp("us", tz="UTC")
    zoned = pc.match_substring_regex(text, _ZONE)
    n_zoned = pc.sum(zoned.cast(pa.int64())).as_py() or 0
    if n_zoned == 0:
        return text.cast(pa.timestamp("us")).cast(utc)
    if n_zoned == len(text) - text.null_count:
        return text.cast(utc)
    with_zone = pc.if_else(zoned, text, pa.scalar(None, pa.string())).cast(utc)
    naive = pc.if_else(zoned, pa.scalar(None, pa.string()), text).cast(
        pa.timestamp("us")).cast(utc)
    return pc.if_else(zoned, with_zone, naive)


# -- DuckDB ------------------------------------------------------------------------------------

class _DuckDB(Connection):
    dialect = "duckdb"
    float_type = "DOUBLE"
    text_type = "VARCHAR"
    timestamp_type = "TIMESTAMPTZ"

    def __init__(self, uri: str, conn):
        super().__init__(uri)
        self.conn = conn

    def execute(self, sql: str) -> int:
        rows = self.conn.execute(sql).fetchall()
        if len(rows) == 1 and len(rows[0]) == 1 and isinstance(rows[0][0], int):
            return rows[0][0]  # DML answers with the count of rows it changed
        return -1

    def query(self, sql: str) -> list[tuple]:
        return self.conn.execute(sql).fetchall()

    def stream(self, sql: str, batch_rows: int) -> pa.RecordBatchReader:
        cur = self.conn.cursor()  # its own connection to the same database, for the stream
        rel = cur.sql(sql)
        to_reader = getattr(rel, "to_arrow_reader", None) or rel.fetch_record_batch
        reader = to_reader(batch_rows)
        return pa.RecordBatchReader.from_batches(reader.schema, _closing(reader, cur))

    def ingest(self, table: str, data: pa.RecordBatchReader, *, temporary: bool) -> None:
        view = f"leadscore_ingest_{os.getpid()}_{id(data):x}"
        self.conn.register(view, data)
        try:
            self.conn.execute(f"CREATE {'TEMP ' if temporary else ''}TABLE {self.quote(table)}"
                              f" AS SELECT * FROM {self.quote(view)}")
        finally:
            self.conn.unregister(view)

    def begin(self) -> None:
        self.conn.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def rollback_quietly(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        except driver_errors():
            pass  # no transaction open

    def close(self) -> None:
        self.conn.close()

    def _schema_sql(self, schema: str | None) -> str:
        return "current_schema()" if schema is None else self.literal(schema)

    def tables(self, schema: str | None = None) -> list[str]:
        return [r[0] for r in self.query("SELECT table_name FROM information_schema.tables "
                                         f"WHERE table_schema = {self._schema_sql(schema)}")]

    def unique_key(self, table, column: str) -> tuple[bool, bool]:
        rows = self.query(
            "SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
            f"WHERE table_name = {self.literal(_bare(table))} "
            f"AND schema_name = {self._schema_sql(_schema_of(table))}")
        cols = [(kind, list(names)) for kind, names in rows]
        unique = any(k in ("PRIMARY KEY", "UNIQUE") and n == [column] for k, n in cols)
        not_null = any(k in ("NOT NULL", "PRIMARY KEY") and column in n for k, n in cols)
        return unique, not_null


# -- opening -----------------------------------------------------------------------------------

def _file_path(uri: str) -> str:
    path = urllib.parse.unquote(uri.split("://", 1)[1])
    if path.startswith("/"):
        path = path[1:]  # sqlite:///rel.db → rel.db, sqlite:////abs.db → /abs.db
    if not path:
        raise _data_error(f"{uri}: no database file in the URI")
    if not os.path.isfile(path):
        raise _data_error(f"{uri}: no such database file: {path}")
    return path


def connect(uri: str, *, autocommit: bool = False) -> Connection:
    """An open :class:`Connection` to ``uri``; DataError naming the database when it cannot
    be reached. ``autocommit=False``: statements run in one transaction until commit()."""
    dialect = dialect_of(uri)
    try:
        if dialect == "postgres":
            import adbc_driver_postgresql.dbapi as pg

            return _Postgres(uri, pg.connect(uri, autocommit=autocommit))
        if dialect == "sqlite":
            import adbc_driver_sqlite.dbapi as sqlite

            path = _file_path(uri)
            conn = _SQLite(uri, sqlite.connect(path, autocommit=autocommit))
            conn.execute("PRAGMA busy_timeout = 30000")  # wait for another writer's commit
            return conn
        import duckdb

        return _DuckDB(uri, duckdb.connect(_file_path(uri)))
    except ImportError as e:
        raise _data_error(f"{redact(uri)}: the {dialect} driver is not installed ({e.name}); "
                          "pip install 'leadscore_fast[db]'") from None
    except driver_errors() as e:
        raise _data_error(f"{redact(uri)}: cannot connect: {describe_error(e)}") from None


# -- the source --------------------------------------------------------------------------------

class DatabaseSource(Source):
    """A database table (rows matching ``where``, the user's own SQL condition) as a
    re-readable Source. Each ``batches()`` opens its own connection and streams the SELECT of
    the columns asked for; the schema is read when the source is made (DataError for an
    unreachable database or a missing table)."""

    reopenable = True
    decodes = True  # the driver decodes the wire format into Arrow: worth a reader thread

    def __init__(self, uri: str, table, *, where: str | None = None,
                 schema: str | None = None, batch_rows: int = DEFAULT_BATCH_ROWS):
        self.uri, self.table, self.where = uri, TableName.of(table, schema), where
        self.batch_rows = max(1, int(batch_rows))
        with connect(uri, autocommit=True) as conn:
            self.dialect = conn.dialect
            if self.table.schema is not None and conn.dialect == "sqlite":
                raise _data_error(f"{conn.uri}: SQLite has no schemas (table {self.table!r}); "
                                  "name the table alone")
            self.name = f"{conn.uri} table {self.table!r}"
            self.columns = {c.name: c for c in conn.columns(self.table)}
        self.schema = pa.schema([pa.field(c.name, c.type) for c in self.columns.values()])

    def num_rows(self) -> int | None:
        try:
            with connect(self.uri, autocommit=True) as conn:
                return conn.count_rows(self.table, self.where)
        except driver_errors():  # only a progress bar's total: never fail over it
            return None

    def select_sql(self, conn: Connection, columns: list[str]) -> str:
        """The SELECT reading ``columns`` (SQLite: after its type-pinning first row)."""
        cols = [self.columns[c] for c in columns]
        exprs = ", ".join(c.expr if c.expr == conn.quote(c.name) else
                          f"{c.expr} AS {conn.quote(c.name)}" for c in cols) or "1"
        body = f"SELECT {exprs} FROM {conn.quote(self.table)}{where_sql(self.where)}"
        if self.dialect != "sqlite":
            return body
        first = ", ".join(f"{c.first} AS {conn.quote(c.name)}" for c in cols)
        return f"SELECT 0{', ' if first else ''}{first} UNION ALL SELECT 1, {exprs} " \
               f"FROM {conn.quote(self.table)}{where_sql(self.where)}"

    def _batches(self, columns) -> Iterator[pa.RecordBatch]:
        columns = list(self.columns) if columns is None else columns
        schema = self.projected_schema(columns)
        with connect(self.uri, autocommit=True) as conn:
            try:
                reader = conn.stream(self.select_sql(conn, columns), self.batch_rows)
                first = True
                for batch in reader:
                    if self.dialect == "sqlite":
                        batch = self._sqlite_batch(batch, columns, first)
                        first = False
                    batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
                    for start in range(0, batch.num_rows, self.batch_rows):  # no copy
                        yield batch.slice(start, self.batch_rows)
            except driver_errors() as e:
                raise self._read_error(e, columns) from None

    def _sqlite_batch(self, batch: pa.RecordBatch, columns, first: bool) -> pa.RecordBatch:
        if first:
            if batch.num_rows == 0 or batch.column(0)[0].as_py() != 0:
                raise _data_error(f"{self.name}: the type-pinning first row did not come first")
            batch = batch.slice(1)
        try:
            arrays = [sqlite_convert(batch.column(i + 1), self.columns[c])
                      for i, c in enumerate(columns)]
        except ValueError as e:
            raise _data_error(f"{self.name}: {e}") from None
        return pa.RecordBatch.from_arrays(arrays, names=columns)

    def _read_error(self, e: BaseException, columns):
        text = describe_error(e)
        m = re.search(r"Type mismatch in column (\d+)", text)
        if m and self.dialect == "sqlite" and 0 < int(m.group(1)) <= len(columns):
            col = self.columns[columns[int(m.group(1)) - 1]]
            return _data_error(f"{self.name}: column {col.name!r} (declared {col.declared}) "
                               f"holds a value of another type ({text})")
        return _data_error(f"{self.name}: cannot read: {text}")
