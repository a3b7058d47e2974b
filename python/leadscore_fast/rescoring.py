"""``rescore()``: score a database table and write the scores back, all or nothing.

    rescore(model, uri, table=..., key=..., into=None, history=None, where=None, schema=None)
        -> RescoreResult

The table (the rows matching ``where``, the user's own SQL condition) is streamed out in Arrow
batches, reading only the columns the model needs plus ``key``, scored batch by batch, and the
scored stream (key, one DOUBLE per score, one TEXT per segmentation) is bulk-loaded into a
staging table (ADBC ``adbc_ingest``: PostgreSQL's binary COPY, SQLite's bound inserts; DuckDB
scans the Arrow stream). Reading, scoring and loading overlap: the database's reader runs a
batch ahead on its own thread and the loader pulls scored batches as it goes, so memory stays
at a few batches whatever the table's size.

Then, in one transaction with the load:
  - without ``into``: the missing output columns are added to TABLE (DOUBLE PRECISION / REAL
    for scores, TEXT for segmentations) and one ``UPDATE TABLE ... FROM staging`` writes them;
  - with ``into``: the staging table *is* the new INTO table (key + outputs); the old one is
    dropped and the new one renamed in its place;
  - with ``history``: before the update, (key, scored_at, model, scores, segments) of every
    lead whose segment changed (compared with the values in TABLE, or in the old INTO table;
    a lead without previous values counts as changed) is appended to HISTORY.

Nothing is committed before the last statement, so any failure (an exception mid-stream, a lost
connection, a killed process, duplicate keys, a type the model rejects) leaves every table as
it was: the server rolls the transaction back, SQLite's journal and DuckDB's WAL hold nothing
committed. Users' mistakes (an unreachable server, a missing table, key or model column,
duplicate or NULL keys) are LeadscoreErrors naming the thing, raised before anything is
written; driver errors become DataError with the driver's message in one line.

``in_database=True`` computes the same columns inside the database instead, with the model
as SQL (``compiler.to_sql(..., dialect=...)``): without ``into``/``history`` that is one
``UPDATE TABLE ... FROM (SELECT key, outputs ...)``, for tables a user does not want to move.
"""
from __future__ import annotations

import datetime as _dt
import inspect
import os
import secrets
import time
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from leadscore_fast.sources.base import check_column
from leadscore_fast.sources.database import (
    DEFAULT_BATCH_ROWS, Connection, DatabaseSource, TableName, connect, describe_error,
    driver_errors, redact, where_sql,
)

__all__ = ["rescore", "RescoreResult", "HISTORY_COLUMNS"]

# The history table's columns besides the key and the outputs.
HISTORY_COLUMNS = ("scored_at", "model")
# PostgreSQL: memory for the staging join and the key check (this transaction only).
_PG_WORK_MEM = "256MB"
_KEY_ALIAS = "leadscore_key"
_INPUT_CTE = "leadscore_input"


@dataclass
class RescoreResult:
    """What a rescore did. ``rows``: rows read and scored; ``updated``: rows written (TABLE's
    rows updated, or INTO's rows); ``changed``: leads whose segment changed (rows appended to
    HISTORY; None without ``history``); ``segments``: per segmentation, leads per label
    (None = no label)."""
    table: str
    into: str | None
    rows: int = 0
    updated: int = 0
    changed: int | None = None
    seconds: float = 0.0
    segments: dict = field(default_factory=dict)
    history: str | None = None
    in_database: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["segments"] = {g: [{"label": k, "leads": v} for k, v in counts.items()]
                         for g, counts in self.segments.items()}
        return d


def rescore(model, uri: str, *, table: str, key: str, into: str | None = None,
            history: str | None = None, where: str | None = None, schema: str | None = None,
            as_of=None,
            threads: int | None = None, in_database: bool = False,
            batch_rows: int = DEFAULT_BATCH_ROWS, progress=None) -> RescoreResult:
    """Score ``table`` of the database at ``uri`` with ``model`` and write the scores back
    (see the module docstring). ``key``: the column identifying a lead (unique, not NULL).
    ``into``: write key + outputs to this table (replaced as a whole) instead of into
    ``table``. ``history``: append the leads whose segment changed to this table (created if
    missing). ``where``: your own SQL condition selecting the rows to rescore. ``schema``: the
    PostgreSQL or DuckDB schema holding ``table``, ``into`` and ``history`` (default: the
    connection's search path for ``table``; new tables go where the database puts them: its
    first schema). ``progress``: a
    callable given the number of rows of each scored batch."""
    from leadscore_fast.compiler import as_model

    from leadscore_fast.errors import DataError

    started = time.perf_counter()
    m = as_model(model)
    try:
        source = DatabaseSource(uri, table, where=where, schema=schema, batch_rows=batch_rows)
        plan = _Plan(m, source, key, None if into is None else TableName.of(into, schema),
                     None if history is None else TableName.of(history, schema), in_database,
                     as_of)
    except driver_errors() as e:  # a catalog query failed: nothing was written yet
        raise DataError(f"{redact(uri)}: {describe_error(e)}") from None
    result = RescoreResult(table=str(source.table), into=None if into is None else
                           str(plan.into), history=None if history is None else
                           str(plan.history), in_database=in_database)
    writer = connect(uri)
    try:
        plan.write(writer, result, as_of=as_of, threads=threads, progress=progress)
    finally:
        writer.close()
    result.seconds = time.perf_counter() - started
    return result


class _Plan:
    """Everything checked before the first write: the program, the names, the catalog."""

    def __init__(self, model, source: DatabaseSource, key: str, into, history, in_database,
                 as_of=None):
        from leadscore_fast.compiler import compile_program as compile_model
        from leadscore_fast.errors import SchemaError

        self.model, self.source, self.key = model, source, key
        self.into, self.history, self.in_database = into, history, in_database
        check_column(source.schema, key, source.name)
        try:
            self.program = compile_model(model, source.schema)
        except SchemaError as e:  # the model's own position, then which table it was
            raise type(e)(f"{e}\n  reading {source.name}") from None
        self.scores = list(self.program.scores)
        self.segments = [g["name"] for g in self.program.segments]
        self.labels = {g["name"]: list(g["labels"]) for g in self.program.segments}
        self.outputs = self.scores + self.segments
        self.inputs = list(dict.fromkeys(c["name"] for c in self.program.columns))
        self._check_names()
        with connect(source.uri, autocommit=True) as cat:
            self.unique, self.not_null = cat.unique_key(source.table, key)
            self.target_columns = self._existing(cat, into) if into else \
                {f.name: f.type for f in source.schema}
            self.history_columns = self._existing(cat, history) if history else None
            self._check_types()
            self.sql = self._in_database_sql(cat, as_of) if in_database else None

    def _check_names(self) -> None:
        from leadscore_fast.errors import ModelError, SchemaError

        where = self.source.name
        if self.key in self.outputs:
            raise SchemaError(f"{where}: key column {self.key!r} has the name of a model "
                              "output; the key must be another column")
        if self.into is not None and _same_name(self.into, self.source.table,
                                                self.source.dialect):
            raise SchemaError(f"{where}: --into must name another table than {self.into!r} "
                              "(without --into the scores are written into the table)")
        if self.history is not None:
            if not self.segments:
                raise ModelError(f"history: model {self.model.name!r} has no segmentation; "
                                 "history records leads whose segment changed")
            clash = [c for c in HISTORY_COLUMNS if c in self.outputs or c == self.key]
            if clash:
                raise SchemaError(f"history: column {clash[0]!r} is the name of a model output"
                                  " or the key; history tables hold key, "
                                  f"{', '.join(HISTORY_COLUMNS)} and the outputs")
            for other in (self.source.table, self.into):
                if other is not None and _same_name(self.history, other, self.source.dialect):
                    raise SchemaError(f"history: {self.history!r} is also the table scored "
                                      "or written; name a table of its own")

    @staticmethod
    def _existing(cat: Connection, table: str) -> dict | None:
        """{column: Arrow type} of ``table``, or None when there is no such table."""
        from leadscore_fast.errors import DataError

        try:
            return {c.name: c.type for c in cat.columns(table)}
        except DataError:
            return None

    def _check_types(self) -> None:
        """Existing output columns must hold what is written into them."""
        from leadscore_fast.errors import SchemaError

        if self.into is None:
            for name in self.outputs:
                t = self.target_columns.get(name)
                if t is None:
                    continue
                ok = (pa.types.is_floating(t) or pa.types.is_decimal(t)) if name in self.scores \
                    else (pa.types.is_string(t) or pa.types.is_large_string(t))
                if not ok:
                    kind = "a number (DOUBLE PRECISION)" if name in self.scores else "text"
                    raise SchemaError(f"{self.source.name}: column {name!r} exists as {t}, "
                                      f"but the model writes {kind} into it")
        if self.history_columns is not None:
            for name in (self.key, *HISTORY_COLUMNS, *self.outputs):
                if name not in self.history_columns:
                    raise SchemaError(
                        f"history table {self.history!r} has no column {name!r}; it holds "
                        f"the key, {', '.join(HISTORY_COLUMNS)} and the model's outputs "
                        "(drop it or name another)")

    # -- the write ---------------------------------------------------------------------------
    def write(self, w: Connection, result: RescoreResult, *, as_of, threads, progress) -> None:
        """All of it in one transaction on ``w``: committed at the end, rolled back on any
        failure (a driver error becomes DataError naming the step)."""
        from leadscore_fast.errors import DataError

        step = "starting the transaction"
        stream = _ScoredStream(self, as_of, threads, progress)
        try:
            w.begin()
            if w.dialect == "postgres":
                w.execute(f"SET LOCAL work_mem = {w.literal(_PG_WORK_MEM)}")
            if self.in_database and not (self.into or self.history or self.source.where):
                step = f"updating table {self.source.table!r}"
                self._update_in_database(w, result)
            else:
                # the new INTO table is built beside it (a rename cannot move it to a schema)
                staging = self.into.sibling(_temp_name("new")) if self.into else \
                    _temp_name("staging")
                step = "scoring into a staging table"
                self._fill(w, staging, stream, result, temporary=self.into is None)
                self._check_keys(w, staging)
                if self.history is not None:
                    step = f"appending to history table {self.history!r}"
                    result.changed = self._append_history(w, staging)
                if self.into is None:
                    step = f"updating table {self.source.table!r}"
                    result.updated = self._update_from(w, staging)
                else:
                    step = f"replacing table {self.into!r}"
                    result.updated = result.rows
                    w.execute(f"DROP TABLE IF EXISTS {w.quote(self.into)}")
                    w.execute(f"ALTER TABLE {w.quote(staging)} RENAME TO "
                              f"{w.quote(self.into.name)}")
            step = "committing"
            w.commit()
        except BaseException as e:
            w.rollback_quietly()
            stream.close()
            if stream.error is not None and stream.error is not e:
                raise stream.error from None  # what went wrong in the stream, not the driver's
            if isinstance(e, driver_errors()):
                raise DataError(f"{w.uri}: {step}: {describe_error(e)}; nothing was "
                                "written") from None
            raise

    def _fill(self, w: Connection, staging: str, stream, result, *, temporary: bool) -> None:
        if self.in_database:
            kind = "TEMPORARY TABLE" if temporary else "TABLE"
            w.execute(f"CREATE {kind} {w.quote(staging)} AS {self.sql}")
            result.rows = w.query(f"SELECT count(*) FROM {w.quote(staging)}")[0][0]
            result.segments = self._segment_counts(w, staging)
            return
        w.ingest(staging, stream.reader(), temporary=temporary)
        stream.check()
        result.rows, result.segments = stream.rows, stream.segment_counts()

    def _check_keys(self, w: Connection, relation: str) -> None:
        """DataError naming a duplicate or NULL key (skipped where a unique key on the column
        and NOT NULL guarantee there is none)."""
        from leadscore_fast.errors import DataError

        if self.unique and self.not_null:
            return
        k, rel = w.quote(self.key), w.quote(relation)
        if self.unique:
            sql = f"SELECT {k}, 1 FROM {rel} WHERE {k} IS NULL LIMIT 1"
        else:
            sql = (f"SELECT {k}, count(*) FROM {rel} GROUP BY {k} "
                   f"HAVING count(*) > 1 OR {k} IS NULL LIMIT 1")
        rows = w.query(sql)
        if rows:
            value, n = rows[0]
            name = self.source.name
            if value is None:
                raise DataError(f"{name}: key column {self.key!r} is NULL in some rows; "
                                "every lead needs a key to be written back")
            raise DataError(f"{name}: key column {self.key!r} is not unique: {value!r} "
                            f"appears {n} times; the key must identify one lead")

    def _update_from(self, w: Connection, staging: str) -> int:
        t = w.quote(self.source.table)
        for name in self.outputs:
            if name not in self.target_columns:
                kind = w.float_type if name in self.scores else w.text_type
                w.execute(f"ALTER TABLE {t} ADD COLUMN {w.quote(name)} {kind}")
        if w.dialect == "postgres":
            w.execute(f"ANALYZE {w.quote(staging)}")  # temp tables are never auto-analyzed
        k = w.quote(self.key)
        return w.execute(f"UPDATE {t} AS _t SET {self._sets(w)} FROM {w.quote(staging)} AS _s "
                         f"WHERE _t.{k} = _s.{k}{self._differs(w)}")

    def _sets(self, w: Connection) -> str:
        return ", ".join(f"{w.quote(n)} = _s.{w.quote(n)}" for n in self.outputs)

    def _differs(self, w: Connection) -> str:
        """`` AND (...)``: only rows whose outputs change are written (a rerun with the same
        as_of writes nothing: no dead row versions, no WAL); new columns are all NULL."""
        if any(n not in self.target_columns for n in self.outputs):
            return ""
        return " AND (" + " OR ".join(f"_t.{w.quote(n)} IS DISTINCT FROM _s.{w.quote(n)}"
                                      for n in self.outputs) + ")"

    def _append_history(self, w: Connection, staging: str) -> int:
        """Append the changed leads to the history table (created if missing); their count."""
        h, k = w.quote(self.history), w.quote(self.key)
        at = w.timestamp_literal(_dt.datetime.now(_dt.timezone.utc).isoformat())
        model = f"CAST({w.literal(self.model.name)} AS {w.text_type})"
        outs = [w.quote(n) for n in self.outputs]
        select = ", ".join([f"_s.{k}", at, model] + [f"_s.{o}" for o in outs])
        names = ", ".join([k] + [w.quote(c) for c in HISTORY_COLUMNS] + outs)
        if self.history_columns is None:
            self._create_history(w, staging, h, k, at, model, outs)
        previous = self.target_columns  # TABLE's columns, or the old INTO table's (or None)
        target = self.into if self.into is not None else self.source.table
        if previous is None or any(g not in previous for g in self.segments):
            frm, cond = f"{w.quote(staging)} AS _s", ""  # no previous values: all changed
        else:
            join = "LEFT JOIN" if self.into is not None else "JOIN"
            frm = f"{w.quote(staging)} AS _s {join} {w.quote(target)} AS _o ON _o.{k} = _s.{k}"
            changed = " OR ".join(f"_o.{w.quote(g)} IS DISTINCT FROM _s.{w.quote(g)}"
                                  for g in self.segments)
            cond = f" WHERE _o.{k} IS NULL OR {changed}" if self.into is not None \
                else f" WHERE {changed}"
        return w.execute(f"INSERT INTO {h} ({names}) SELECT {select} FROM {frm}{cond}")

    def _create_history(self, w, staging, h, k, at, model, outs) -> None:
        if w.dialect == "sqlite":  # SQLite: declared types, so the table reads back typed
            key_type = _SQLITE_TYPES.get(str(self.source.schema.field(self.key).type), "")
            cols = [f"{k} {key_type}".strip(), f"{w.quote('scored_at')} TIMESTAMP",
                    f"{w.quote('model')} TEXT"]
            cols += [f"{o} {'REAL' if n in self.scores else 'TEXT'}"
                     for o, n in zip(outs, self.outputs)]
            w.execute(f"CREATE TABLE {h} ({', '.join(cols)})")
            return
        select = ", ".join([f"_s.{k}", f"{at} AS {w.quote('scored_at')}",
                            f"{model} AS {w.quote('model')}"] + [f"_s.{o}" for o in outs])
        w.execute(f"CREATE TABLE {h} AS SELECT {select} FROM {w.quote(staging)} AS _s "
                  "WHERE 1 = 0")

    def _segment_counts(self, w: Connection, relation: str) -> dict:
        counts = {}
        for g in self.segments:
            q = w.quote(g)
            rows = w.query(f"SELECT {q}, count(*) FROM {w.quote(relation)} GROUP BY {q}")
            counts[g] = in_label_order(dict(rows), self.labels[g])
        return counts

    # -- in the database ---------------------------------------------------------------------
    def _in_database_sql(self, w: Connection, as_of=None) -> str:
        """SELECT key AS <key>, outputs... computed by the database (the model as SQL)."""
        from leadscore_fast.compiler import to_sql
        from leadscore_fast.errors import DataError

        dialect = self.source.dialect
        if "dialect" in inspect.signature(to_sql).parameters:
            extra = {"dialect": dialect}
        elif dialect == "duckdb":
            extra = {}  # to_sql without dialects writes DuckDB's
        else:
            raise DataError(f"{self.source.name}: --in-database needs the model as "
                            f"{dialect} SQL, which this version of to_sql cannot write")
        cols = [self.source.columns[c] for c in self.inputs]
        key = self.source.columns[self.key]
        fields = [pa.field(c.name, c.type) for c in cols] + [pa.field(_KEY_ALIAS, key.type)]
        model_sql = to_sql(self.model, pa.schema(fields), relation=_INPUT_CTE, as_of=as_of,
                           include_input=True, **extra)
        exprs = [f"{c.expr} AS {w.quote(c.name)}" for c in cols]
        exprs.append(f"{key.expr} AS {w.quote(_KEY_ALIAS)}")
        src = self.source
        where = where_sql(src.where)
        outs = ", ".join(f"_m.{w.quote(n)}" for n in self.outputs)
        return (f"WITH {w.quote(_INPUT_CTE)} AS (SELECT {', '.join(exprs)} FROM "
                f"{w.quote(src.table)}{where}) SELECT _m.{w.quote(_KEY_ALIAS)} AS "
                f"{w.quote(self.key)}, {outs} FROM ({model_sql}) AS _m")

    def _update_in_database(self, w: Connection, result: RescoreResult) -> None:
        """The model as one UPDATE ... FROM (SELECT key, outputs) inside the database (the
        whole table: with a WHERE, history or INTO the SELECT fills a staging table first,
        which gives exact counts of the rows and labels it scored)."""
        self._check_keys(w, self.source.table)
        t, k = w.quote(self.source.table), w.quote(self.key)
        for name in self.outputs:
            if name not in self.target_columns:
                kind = w.float_type if name in self.scores else w.text_type
                w.execute(f"ALTER TABLE {t} ADD COLUMN {w.quote(name)} {kind}")
        result.updated = w.execute(
            f"UPDATE {t} AS _t SET {self._sets(w)} FROM ({self.sql}) AS _s "
            f"WHERE _t.{k} = _s.{k}{self._differs(w)}")
        result.segments = self._segment_counts(w, self.source.table)
        result.rows = sum(next(iter(result.segments.values())).values()) if result.segments else \
            w.query(f"SELECT count(*) FROM {t}")[0][0]


_SQLITE_TYPES = {"int64": "INTEGER", "double": "REAL", "string": "TEXT", "bool": "BOOLEAN",
                 "date32[day]": "DATE", "timestamp[us, tz=UTC]": "TIMESTAMP", "binary": "BLOB"}


def _same_name(a, b, dialect: str) -> bool:
    # SQLite and DuckDB match names case-insensitively even when quoted.
    a, b = str(a), str(b)
    return a == b or (dialect != "postgres" and a.casefold() == b.casefold())


def _temp_name(kind: str) -> str:
    return f"leadscore_{kind}_{os.getpid()}_{secrets.token_hex(4)}"


def in_label_order(counts: dict, labels: list) -> dict:
    """Leads per label, the labels in the segmentation's order (as ``leadscore segment``
    lists them), no label (None) last."""
    rank = {x: i for i, x in enumerate(labels)}
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] is None, rank.get(kv[0], len(rank)),
                                                       str(kv[0]))))


class _ScoredStream:
    """The scored batches as the staging table takes them: key first, then the scores, then
    the segmentations as plain text; counts rows and labels, calls ``progress``, and keeps the
    exception that stopped it (the loader reports only that its input failed)."""

    def __init__(self, plan: _Plan, as_of, threads, progress):
        self.plan, self.as_of, self.threads, self.progress = plan, as_of, threads, progress
        self.rows, self.error, self._scored = 0, None, None
        self._counts = {g: {} for g in plan.segments}

    def reader(self) -> pa.RecordBatchReader:
        from leadscore_fast.scoring import score

        p = self.plan
        self._scored = score(p.program, p.source, keep=[p.key], as_of=self.as_of,
                             threads=self.threads, stream=True)
        names = [p.key] + p.outputs
        fields = [self._scored.schema.field(n) for n in names]
        schema = pa.schema([f.with_type(pa.string()) if pa.types.is_dictionary(f.type) else f
                            for f in fields])
        return pa.RecordBatchReader.from_batches(schema, self._batches(names, schema))

    def _batches(self, names, schema):
        try:
            for batch in self._scored:
                self._count(batch)
                self.rows += batch.num_rows
                out = pa.RecordBatch.from_arrays(
                    [batch.column(n).cast(f.type) for n, f in zip(names, schema)],
                    schema=schema)
                if self.progress is not None:
                    self.progress(batch.num_rows)
                yield out
        except BaseException as e:
            self.error = e
            raise

    def _count(self, batch: pa.RecordBatch) -> None:
        for g, counts in self._counts.items():
            col = batch.column(g)
            for item in pc.value_counts(col).to_pylist():
                counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]

    def segment_counts(self) -> dict:
        return {g: in_label_order(c, self.plan.labels[g]) for g, c in self._counts.items()}

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self._scored is not None:
            self._scored.close()
