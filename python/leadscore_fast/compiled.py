"""``CompiledModel``: what ``lf.compile(model, schema)`` returns, a scoring model a pipeline
keeps (a webhook handler, a Spark or Dask worker).

A small RecordBatch is scored in one engine call (small_batch.py), one lead from its dict in
another (``_engine.RowScorer``); everything else goes through the runner's batch path
(``runner.start_batch`` and the output columns of ``scoring.record_batch``). Every path gives
``lf.score``'s bits. The one-call paths keep their table caches behind locks in the engine;
on the runner's path each thread has its own prepared state (``runner.Prepared``: the checked
bytecode and the lookup-table cache), so many threads may score with one object at once.

Pickling writes a versioned blob of plain data, no code: the model in its YAML layout, the
schema as Arrow IPC and a digest of the bytecode. Loading compiles the model again (a few
milliseconds) and checks the digest, so a worker scores with exactly the driver's program or
refuses with a ``LeadscoreError``.
"""
from __future__ import annotations

import datetime as _dt

import json
import threading

import numpy as np
import pyarrow as pa

__all__ = ["CompiledModel", "FORMAT_VERSION"]

FORMAT = "leadscore_fast.CompiledModel"
# Bump when the blob's layout changes; blobs of another version are refused.
FORMAT_VERSION = 1


def _errors():
    from leadscore_fast import errors

    return errors


class CompiledModel:
    """A model compiled against an Arrow schema.

    ``score_batch(batch)`` scores Arrow data into a RecordBatch (the columns of ``lf.score``),
    ``score_one(mapping)`` one lead given as a dict, ``explain_one(mapping)`` its reasons
    (the row of ``lf.explain``). ``program`` is the engine's Program
    (bytecode, ``disassemble()``); its attributes (``columns``, ``scores``, ``segments``, ...)
    are also readable here, as they were when ``compile`` returned the Program itself.
    """

    def __init__(self, model, schema):
        from leadscore_fast.compiler import as_model, as_schema, compile_program

        self.model = as_model(model)
        self.schema = as_schema(schema)
        self.program = compile_program(self.model, self.schema)
        self._setup()

    def _setup(self) -> None:
        from leadscore_fast.schema import kind_of

        program = self.program
        # The input columns the program reads (a has_any column reads its list column).
        self.inputs = list(dict.fromkeys(c["name"] for c in program.columns))
        self._fields = [self.schema.field(_column(self.schema, n, "schema"))
                        for n in self.inputs]
        self._kinds = {f.name: kind_of(f.type) for f in self._fields}
        self._one_schema = pa.schema(self._fields)
        self.score_names = list(program.scores)
        self.segment_names = [g["name"] for g in program.segments]
        self._labels = [list(g["labels"]) for g in program.segments]
        # score_one's columns: (name, kind, has_any values), in the program's column order
        self._row_columns = [(c["name"], c["kind"], frozenset(c.get("has_any") or ()))
                             for c in program.columns]
        self._local = threading.local()
        self._out_schemas: dict = {}  # keep names + their types → output schema
        self._checked: list = []      # input schemas already checked against the compiled one
        # the model's own as_of in epoch microseconds (None: "now", resolved per call)
        self._model_as_of = None if program.as_of is None else _as_of_us(None, program)

    # -- the Program's attributes, as before --------------------------------------------------
    def __getattr__(self, name):
        program = self.__dict__.get("program")
        if program is None or name.startswith("_"):
            raise AttributeError(name)
        return getattr(program, name)

    def __repr__(self) -> str:
        return (f"CompiledModel({self.model.name!r}, inputs={self.inputs!r}, "
                f"scores={self.score_names!r}, segments={self.segment_names!r})")

    # -- scoring ------------------------------------------------------------------------------
    def _prep(self):
        """This thread's prepared program (a lookup cache shared by threads would need locks)."""
        prep = getattr(self._local, "prep", None)
        if prep is None:
            from leadscore_fast.runner import Prepared

            prep = self._local.prep = Prepared(self.program)
        return prep

    def _check_schema(self, schema: pa.Schema, where: str) -> None:
        """Every input column is present with the kind it was compiled for (a column of
        another kind would run a program compiled for other types)."""
        for seen in self._checked:
            if seen is schema or seen.equals(schema):
                return
        from leadscore_fast.schema import kind_of

        for name in self.inputs:
            got = kind_of(schema.field(_column(schema, name, where)).type)
            want = self._kinds[name]
            if got != want and got != "null":
                raise _errors().SchemaError(
                    f"{where}: column {name!r} is {schema.field(name).type} ({got}), but the "
                    f"model was compiled for {self.schema.field(name).type} ({want})")
        self._checked = (self._checked + [schema])[-8:]

    def _out_schema(self, batch_schema: pa.Schema, keep: list) -> pa.Schema:
        key = tuple((k, str(batch_schema.field(k).type)) for k in keep)
        out = self._out_schemas.get(key)
        if out is None:
            fields = [pa.field(s, pa.float64()) for s in self.score_names]
            fields += [pa.field(g, pa.dictionary(pa.int32(), pa.string()))
                       for g in self.segment_names]
            fields += [batch_schema.field(k) for k in keep]
            out = self._out_schemas[key] = pa.schema(fields)
        return out

    def _run(self, batch: pa.RecordBatch, keep: list, as_of, threads, row_base: int = 0):
        """Start the runner's kernel on ``batch``; returns (prep, finish)."""
        from leadscore_fast import runner
        from leadscore_fast.as_of import resolve_as_of
        from leadscore_fast.vm import pool

        prep = self._prep()
        columns = list(dict.fromkeys(self.inputs + keep))
        if list(batch.schema.names) != columns:
            batch = batch.select(columns)
        # each program column's batch column (two has_any columns may read one list column)
        col_idx = [columns.index(c["name"]) for c in self.program.columns]
        threads = runner.default_threads() if threads is None else max(1, int(threads))
        # A compiled model has no top-k queries: empty heaps, sized as the executor checks.
        tk_state = pool.topk_state(prep.tk_meta, pool.max_blocks(threads))
        finish = runner.start_batch(prep, batch, col_idx, resolve_as_of(as_of, self.program),
                                     threads, runner.DEFAULT_CHUNK_ROWS, True, row_base,
                                     tk_state)
        return prep, batch, finish

    def score_batch(self, batch, *, keep=None, as_of=None, threads=None) -> pa.RecordBatch:
        """Score Arrow data: a RecordBatch, a Table, or anything with ``__arrow_c_array__`` /
        ``__arrow_c_stream__`` (other shapes ``lf.score`` reads are read the same way).
        Returns one RecordBatch with the columns of ``lf.score``: a float64 column per score,
        a dictionary<int32, string> column per segmentation, then the ``keep`` columns."""
        keep = [keep] if isinstance(keep, str) else list(keep or [])
        one = batch
        if isinstance(batch, pa.Table) and batch.num_rows:
            parts = batch.to_batches()  # one chunk per column: one batch, no copy
            one = parts[0] if len(parts) == 1 else None
        if isinstance(one, pa.RecordBatch):
            small = self._score_small(one, keep, as_of, threads)
            if small is not None:
                return small
        from leadscore_fast.scoring import record_batch

        batches, schema = _as_batches(batch)
        self._check_schema(schema, "batch")
        from leadscore_fast.sources import check_column

        for k in keep:
            check_column(schema, k, "batch")
        out_schema = self._out_schema(schema, keep)
        keep_idx = [list(dict.fromkeys(self.inputs + keep)).index(k) for k in keep]
        outs, row_base = [], 0
        for b in batches:
            prep, _b, finish = self._run(b, keep, as_of, threads, row_base)
            outs.append(record_batch(prep, finish(), keep_idx, out_schema))
            row_base += b.num_rows
        if len(outs) == 1:
            return outs[0]
        if not outs:
            return pa.RecordBatch.from_pylist([], schema=out_schema)
        return pa.Table.from_batches(outs, out_schema).combine_chunks().to_batches()[0]

    def _score_small(self, batch: pa.RecordBatch, keep: list, as_of, threads):
        """score_batch of one small RecordBatch in one engine call (small_batch.py), or None
        where the runner's path scores it."""
        small = self.__dict__.get("_small")
        if small is None:
            from leadscore_fast.arrays import strings
            from leadscore_fast.small_batch import SmallBatches

            small = self._small = SmallBatches(self.program, [strings(labels)
                                                              for labels in self._labels])
        schema = batch.schema
        self._check_schema(schema, "batch")
        for k in keep:
            _column(schema, k, "batch")
        if as_of is None and self._model_as_of is not None:
            as_of_us = self._model_as_of
        else:
            as_of_us = _as_of_us(as_of, self.program)
        cols = small.score(batch, as_of_us, threads)
        if cols is None:
            return None
        cols.extend(batch.column(k) for k in keep)
        return pa.RecordBatch.from_arrays(cols, schema=self._out_schema(schema, keep))

    def score_one(self, lead: dict, *, as_of=None, strict: bool = False) -> dict:
        """Score one lead given as a mapping of column values (Python values pyarrow converts
        to the compiled schema's column types: numbers, strings, bools, datetimes, lists).
        A missing column is NULL. Keys the model does not read are ignored (a webhook payload
        carries more than the model reads); ``strict=True`` makes an unknown key a
        SchemaError naming it, with a suggestion. Returns ``{score: float or None, ...,
        segmentation: label or None, ...}``: the same values ``lf.score`` gives that row."""
        if strict:
            from leadscore_fast.suggest import did_you_mean

            for key in lead:
                if key not in self._kinds and key not in self.schema.names:
                    raise _errors().SchemaError(
                        f"score_one: unknown column {key!r}"
                        f"{did_you_mean(key, self.schema.names)}")
        fast = self._score_row(lead, as_of)
        if fast is not None:
            return fast
        _prep, _b, finish = self._run(self._lead_batch(lead), [], as_of, 1)
        out = finish()
        result = {}
        for s, name in enumerate(self.score_names):
            v = float(out.out_f[s, 0])
            result[name] = None if np.isnan(v) else v
        for g, name in enumerate(self.segment_names):
            code = int(out.out_seg[g, 0])
            result[name] = None if code < 0 else self._labels[g][code]
        return result

    def explain_one(self, lead: dict, *, top: int = 3, as_of=None) -> dict:
        """Why one lead (a mapping read as ``score_one`` reads it) has its scores: the row
        ``lf.explain`` gives it in a one-row batch, as a dict: every score and segment, then
        per rule score ``reasons_<score>``, a list of ``{"rule", "points"}`` (the ``top``
        largest |points|, ties in file order, then ``(range)`` for the clamp)."""
        from leadscore_fast.explanations import explain

        table = explain(self.model, self._lead_batch(lead), top=top, as_of=as_of, threads=1)
        return table.to_pylist()[0]

    def _lead_batch(self, lead: dict) -> pa.RecordBatch:
        """One lead as a one-row batch of the input columns (missing or None: NULL)."""
        # (pa.nulls is called here, not at compile: its first call costs a fresh process ~8 ms)
        arrays = [pa.nulls(1, f.type) if (v := lead.get(f.name)) is None else _one(v, f)
                  for f in self._fields]
        return pa.RecordBatch.from_arrays(arrays, schema=self._one_schema)

    def _score_row(self, lead: dict, as_of):
        """score_one without building a batch: the values go straight to the engine
        (``_engine.RowScorer``: the dict read, the native executor run over one row and the
        result dict built in one call). None where a value is not of the plain Python type its
        column takes (the Arrow path converts it then)."""
        rows = self.__dict__.get("_rows")
        if rows is None:
            rows = self._rows = _engine().RowScorer(
                self.program, [(n, k, sorted(w)) for n, k, w in self._row_columns],
                self._labels, _micros)
        if as_of is None and self._model_as_of is not None:
            as_of_us = self._model_as_of
        else:
            as_of_us = _as_of_us(as_of, self.program)
        return rows.score(lead if type(lead) is dict else dict(lead), as_of_us)

    # -- pickling -----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The versioned blob pickling writes: JSON of plain data (no code)."""
        import base64

        schema = base64.b64encode(self.schema.serialize().to_pybytes()).decode("ascii")
        return json.dumps({"format": FORMAT, "version": FORMAT_VERSION,
                           "model": self.model.to_dict(), "schema": schema,
                           "program": _digest(self.program)},
                          separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, blob: bytes) -> CompiledModel:
        """The CompiledModel of a ``to_bytes()`` blob: compiled again, checked against the
        blob's bytecode digest. LeadscoreError for a blob of another format version, a
        damaged one, or one whose model compiles differently here."""
        import base64

        from leadscore_fast.model import Model

        err = _errors().LeadscoreError
        try:
            d = json.loads(bytes(blob).decode("utf-8"))
        except (TypeError, ValueError):
            raise err("not a compiled-model blob (expected the JSON that "
                      "CompiledModel.to_bytes writes)") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise err("not a compiled-model blob (no 'format': "
                      f"{FORMAT!r})")
        if d.get("version") != FORMAT_VERSION:
            raise err(f"compiled-model blob of format version {d.get('version')!r}; this "
                      f"leadscore_fast reads version {FORMAT_VERSION}: compile the model "
                      "again with this version")
        try:
            model = Model.from_dict(d["model"], source="<compiled model>")
            schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(d["schema"])))
        except (KeyError, TypeError, ValueError, pa.ArrowException) as e:
            raise err(f"damaged compiled-model blob: {e}") from None
        self = cls(model, schema)
        if _digest(self.program) != d.get("program"):
            raise err(f"compiled-model blob of model {model.name!r}: the model compiles to "
                      "other bytecode in this leadscore_fast than where it was pickled; "
                      "use the same version on both sides")
        return self

    def __reduce__(self):
        return (_restore, (self.to_bytes(),))


def _restore(blob: bytes) -> CompiledModel:
    return CompiledModel.from_bytes(blob)


def _digest(program) -> str:
    import hashlib

    return hashlib.sha256(program.disassemble().encode("utf-8")).hexdigest()[:32]


def _one(value, field: pa.Field) -> pa.Array:
    """A one-row array of ``field``'s type holding ``value``."""
    try:
        return pa.array([value], type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError,
            ValueError, OverflowError):
        pass
    try:  # e.g. an ISO-8601 string for a timestamp column: Arrow's cast parses it
        return pa.array([value]).cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError,
            ValueError, OverflowError):
        raise _errors().DataError(f"score_one: column {field.name!r} is {field.type}; "
                                  f"cannot read {value!r} as that") from None


def _as_batches(data):
    """(batches, schema) of RecordBatch-like input."""
    if isinstance(data, pa.RecordBatch):
        return [data], data.schema
    if isinstance(data, pa.Table):
        return data.to_batches(), data.schema
    if hasattr(data, "__arrow_c_array__"):
        b = pa.record_batch(data)
        return [b], b.schema
    from leadscore_fast.sources import open_source

    source = open_source(data)
    return list(source.batches(None)), source.schema


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _micros(v):
    """A datetime (naive is UTC) or date as microseconds since the epoch; None otherwise."""
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.timezone.utc)
        return (v - _EPOCH) // _dt.timedelta(microseconds=1)
    if isinstance(v, _dt.date):
        return (v - _EPOCH.date()).days * 86_400_000_000
    return None


def _column(schema: pa.Schema, name: str, where: str) -> int:
    """The index of column ``name`` (sources.check_column, imported only for its error)."""
    i = schema.get_field_index(name)
    if i >= 0:
        return i
    from leadscore_fast.sources import check_column

    return check_column(schema, name, where)


def _as_of_us(as_of, program) -> int:
    from leadscore_fast.as_of import resolve_as_of

    return resolve_as_of(as_of, program)


def _engine():
    from leadscore_fast import _engine as engine

    return engine
