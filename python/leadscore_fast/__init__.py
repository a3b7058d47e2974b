"""leadscore_fast: compiled lead scoring over Arrow data.

Public API (imported lazily so that ``import leadscore_fast`` stays fast and the numba VM is
only loaded when something is scored):

    Model, col, lit        build or load a scoring model          (model.py, expr.py)
    compile, to_sql        compile against an Arrow schema / emit DuckDB SQL (compiler.py)
    score                  score a Table / RecordBatch / reader / __arrow_c_stream__ object (scoring.py)
    score_file             score a file or dataset into a file, atomically; Parquet in Rust (file_scoring.py)
    count select top_k histogram quantiles crossings migration
                           threshold queries fused into the scoring pass (queries.py)
    summarize              per-segment counts, shares, score stats, conversion and lift (summaries.py)
    evaluate               ROC AUC, KS, gains per decile, conversion per segment (evaluation.py)
    explain                per-lead reasons and per-rule contributions (explanations.py)
    rule_stats             per-rule hits, contributions, caps, lift and warnings (rule_health.py)
    drift                  PSI per score, segment shares, hit rates, null rates between runs (drift_report.py)
    CompiledModel          what compile returns: score_batch, score_one, picklable (compiled.py)
    merge                  mergeable parts of counts, histograms, top-k, summaries (merge.py)
    spark, dask            the same on Spark and Dask (import leadscore_fast.spark / .dask)
    source                 open a file, directory, glob or in-memory object as a Source (sources/)
    write_output           write a Table or stream to a file atomically (sinks.py)
    errors                 LeadscoreError and its subclasses
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Model": "leadscore_fast.model",
    "col": "leadscore_fast.expr",
    "lit": "leadscore_fast.expr",
    "Expr": "leadscore_fast.expr",
    "compile": "leadscore_fast.compiler",
    "CompiledModel": "leadscore_fast.compiled",
    "to_sql": "leadscore_fast.compiler",
    "score": "leadscore_fast.scoring",
    "score_file": "leadscore_fast.file_scoring",
    "count": "leadscore_fast.queries",
    "select": "leadscore_fast.queries",
    "top_k": "leadscore_fast.queries",
    "histogram": "leadscore_fast.queries",
    "quantiles": "leadscore_fast.queries",
    "crossings": "leadscore_fast.queries",
    "migration": "leadscore_fast.queries",
    "Crossings": "leadscore_fast.queries",
    "QueryError": "leadscore_fast.queries",
    "summarize": "leadscore_fast.summaries",
    "evaluate": "leadscore_fast.evaluation",
    "explain": "leadscore_fast.explanations",
    "rule_stats": "leadscore_fast.rule_health",
    "drift": "leadscore_fast.drift_report",
    "learn": "leadscore_fast.learning",
    "Evaluation": "leadscore_fast.evaluation",
    "rescore": "leadscore_fast.rescoring",
    "source": "leadscore_fast.sources",
    "write_output": "leadscore_fast.sinks",
    "LeadscoreError": "leadscore_fast.errors",
    "ModelError": "leadscore_fast.errors",
    "ExpressionError": "leadscore_fast.errors",
    "TypeCheckError": "leadscore_fast.errors",
    "SchemaError": "leadscore_fast.errors",
    "ProgramError": "leadscore_fast.errors",
    "DataError": "leadscore_fast.errors",
}

__all__ = sorted(_LAZY)


_SUBMODULES = {"errors", "model", "expr", "compiler", "scoring", "synthetic", "sinks", "sources", "cli", "schema", "queries", "summaries", "runner", "evaluation", "labels", "compiled", "merge", "spark", "dask"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"leadscore_fast.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'leadscore_fast' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
