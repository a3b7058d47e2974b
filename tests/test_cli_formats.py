"""--format table|json|csv on every report command (report_output.py): the JSON and the CSV a
real CLI run prints, parsed, equal the Python API's results on the same file; plain numbers
(an id of 658831 is 658831, not 658,831); segments in label order everywhere; `query top`
shows the scores and the key column by default; bad --format values get a clear message."""
from __future__ import annotations

import csv
import io
import json
import math

import pyarrow as pa
import pytest
from click.testing import CliRunner

pytest.importorskip("leadscore_fast._engine")

import leadscore_fast as lf  # noqa: E402
from leadscore_fast.cli import main  # noqa: E402
from leadscore_fast.sinks import write_output  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402

AS_OF = "2027-01-01T00:00:00Z"  # two months after the model's own as_of
REPORTS = ["segment", "query", "diff", "rules", "evaluate", "explain", "drift", "cleanup"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    table = generate_leads(1500, seed=11, null_rate=0.1)
    data = d / "leads.parquet"
    write_output(table, data)
    half = d / "half.parquet"
    write_output(table.slice(0, 700), half)
    old = d / "old.yaml"
    old.write_text(REFERENCE_MODEL_YAML + "  grade:\n    bands: {score: fit, edges: [25, 50], "
                   "labels: [C, B, A]}\n")
    new = d / "new.yaml"
    new.write_text(old.read_text().replace("total >= 40", "total >= 35")
                   .replace("0.6 * fit + 0.4 * engagement", "0.5 * fit + 0.5 * engagement"))
    return {"old": old, "new": new, "data": data, "half": half,
            "model": lf.Model.from_yaml(old), "new_model": lf.Model.from_yaml(new),
            "table": table}


def run(*args, ok=True):
    r = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, r.output
    return r


def as_json(*args):
    r = run(*args, "--format", "json")
    assert json.loads(r.stdout) == json.loads(run(*args, "--json").stdout)  # the shorthand
    return json.loads(r.stdout)


def as_csv(*args) -> list[dict]:
    return list(csv.DictReader(io.StringIO(run(*args, "--format", "csv").stdout)))


def same(cell: str, want) -> bool:
    """A CSV cell holds ``want``: NULL is empty, numbers exactly, lists as JSON text."""
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return cell == ""
    if isinstance(want, bool):
        return cell == ("true" if want else "false")
    if isinstance(want, int):
        return cell == str(want)
    if isinstance(want, float):
        return float(cell) == want
    if isinstance(want, (list, dict)):
        return json.loads(cell) == want
    return cell == str(want)


def check_rows(got: list[dict], want: list[dict], section=None) -> None:
    if section is not None:
        got = [r for r in got if r.pop("section") == section]
    assert len(got) == len(want), (section, got, want)
    for g, w in zip(got, want):
        for k, v in w.items():
            assert same(g[k], v), (section, k, g[k], v)
        assert all(g[k] == "" for k in g if k not in w), (section, g, w)  # nothing else


def check_sections(rows: list[dict], sections: dict) -> None:
    assert {r["section"] for r in rows} <= set(sections)
    for name, want in sections.items():
        check_rows([dict(r) for r in rows], want, name)


# -- every report command × json / csv against the Python API ------------------------------

def test_segment(files):
    args = ["segment", files["old"], files["data"], "--label", "converted", "--as-of", AS_OF]
    want = lf.summarize(files["model"], files["data"], label="converted",
                        as_of=AS_OF).to_pylist()
    assert as_json(*args) == want
    check_rows(as_csv(*args), want)
    assert "tier" in run(*args).stdout


def test_query(files):
    m, data = files["model"], files["data"]
    base = ["query", files["old"], data]
    where = "total >= 30 AND tier != 'cold'"
    n = lf.count(m, data, where, as_of=AS_OF)
    assert as_json(*base, "count", where, "--as-of", AS_OF) == {"count": n}
    check_rows(as_csv(*base, "count", where, "--as-of", AS_OF), [{"count": n}])
    cases = [
        (["select", "tier = 'hot'", "-c", "lead_id", "-c", "company_size"],
         lf.select(m, data, "tier = 'hot'", columns=["lead_id", "company_size"], as_of=AS_OF)),
        (["top", "5", "--by", "total", "--per", "tier", "-c", "lead_id"],
         lf.top_k(m, data, 5, by="total", per="tier", columns=["lead_id"], as_of=AS_OF)),
        (["histogram", "total", "--edges", "0,20,40"],
         lf.histogram(m, data, "total", [0, 20, 40], as_of=AS_OF)),
        (["histogram", "total", "--bins", "4"], lf.histogram(m, data, "total", 4, as_of=AS_OF)),
        (["quantiles", "total", "0.5", "0.9"],
         lf.quantiles(m, data, "total", [0.5, 0.9], as_of=AS_OF)),
    ]
    for args, table in cases:
        want = table.to_pylist()
        assert as_json(*base, *args, "--as-of", AS_OF) == want, args
        got = as_csv(*base, *args, "--as-of", AS_OF)
        assert list(got[0]) == table.column_names
        check_rows(got, want)


def test_query_select_all_columns_json_is_plain(files):
    """Dates as ISO-8601 text, lists as lists, NULL as null: every column of a select."""
    got = as_json("query", files["old"], files["data"], "select", "lead_id < 4", "--as-of",
                  AS_OF)
    want = lf.select(files["model"], files["data"], "lead_id < 4", as_of=AS_OF).to_pylist()
    assert [r["lead_id"] for r in got] == [r["lead_id"] for r in want]
    for g, w in zip(got, want):
        for k, v in w.items():
            assert g[k] == (v.isoformat() if hasattr(v, "isoformat") else v), k


def test_diff(files):
    m, new, data = files["model"], files["new_model"], files["data"]
    args = ["diff", files["old"], files["new"], data, "--score", "total", "--threshold", "30",
            "--id-column",
            "lead_id", "--show", "3", "--as-of", AS_OF]
    migration = [{"segmentation": seg, **r} for seg in ("tier", "grade")
                 for r in lf.migration(m, new, data, seg, as_of=AS_OF).to_pylist()]
    c = lf.crossings(m, new, data, score="total", threshold=30, id_column="lead_id",
                     as_of=AS_OF)
    assert c.n_up + c.n_down > 0  # the test data has crossings to compare
    counts = {"score": "total", "threshold": 30.0, "up": c.n_up, "down": c.n_down}
    up, down = c.up.slice(0, 3).to_pylist(), c.down.slice(0, 3).to_pylist()
    assert as_json(*args) == {"migration": migration,
                              "crossings": [{**counts, "up_leads": up, "down_leads": down}]}
    crossed = [{"score": "total", "threshold": 30.0, "direction": d, **r}
               for d, rows in (("up", up), ("down", down)) for r in rows]
    check_sections(as_csv(*args), {"migration": migration, "crossings": [counts],
                                   "crossed": crossed})


def test_rules(files, tmp_path):
    typo = tmp_path / "typo.yaml"  # a value the data never contains: a warning
    typo.write_text(files["old"].read_text().replace("'software'", "'sofware'"))
    args = ["rules", typo, files["data"], "--label", "converted", "--as-of", AS_OF]
    h = lf.rule_stats(lf.Model.from_yaml(typo), files["data"], "converted", as_of=AS_OF)
    assert as_json(*args) == h.to_dict()
    assert h.warnings  # a warnings section
    check_sections(as_csv(*args), {"rules": h.rules, "warnings": h.warnings})


def test_evaluate(files):
    args = ["evaluate", files["old"], files["data"], "--label", "converted", "--capacity",
            "100", "--threshold", "40", "--as-of", AS_OF]
    ev = lf.evaluate(files["model"], files["data"], "converted", capacity=100, threshold=40,
                     as_of=AS_OF)
    d = ev.to_dict()
    assert as_json(*args) == d
    h = d["histogram"]
    check_sections(as_csv(*args), {
        "summary": [{k: d[k] for k in ("score", "leads", "conversions", "conversion_rate",
                                        "auc", "ks", "ks_at", "unlabelled")}],
        "deciles": d["deciles"], "segments": d["segments"], "capacity": [d["capacity"]],
        "threshold": [d["threshold"]],
        "histogram": [{"lo": h["edges"][i], "hi": h["edges"][i + 1],
                       "converted": h["converted"][i], "not_converted": h["not_converted"][i]}
                      for i in range(len(h["converted"]))]})


def test_explain(files):
    from leadscore_fast.explanations import explain_leads

    args = ["explain", files["old"], files["data"], "--where", "lead_id IN (3, 4)", "--keep",
            "lead_id", "--as-of", AS_OF]
    leads = explain_leads(files["model"], files["data"], "lead_id IN (3, 4)", keep=["lead_id"],
                          as_of=AS_OF)
    assert len(leads) == 2 and as_json(*args) == leads
    rules, cases = [], []
    for n, lead in enumerate(leads, 1):
        for s in lead["scores"]:
            base = {"lead": n, "lead_id": lead["keep"]["lead_id"], "score": s["score"],
                    "value": s["value"]}
            rules += [{**base, **r} for r in s["rules"]] or [base]
            if s["range"] is not None:
                rules.append({**base, "rule": "(range)", "contribution": s["range"]})
        cases += [{"lead": n, "lead_id": lead["keep"]["lead_id"], "segmentation": g["segmentation"],
                   "segment": g["segment"], "case": c["label"], "condition": c["condition"]}
                  for g in lead["segments"] for c in g["cases"]]
    check_sections(as_csv(*args), {"rules": rules, "segments": cases})


def test_drift(files):
    args = ["drift", files["old"], files["half"], files["data"], "--as-of", AS_OF]
    d = lf.drift(files["model"], files["half"], files["data"], as_of=AS_OF).to_dict()
    assert as_json(*args) == d
    check_sections(as_csv(*args), {"scores": d["scores"], "segments": d["segments"],
                                   "rules": d["rules"], "columns": d["columns"],
                                   "warnings": [{"message": w} for w in d["warnings"]]})


def test_cleanup(files, tmp_path):
    from leadscore_fast.cleanup import cleanup

    args = ["cleanup", files["old"], files["data"], "--below", "5", "--inactive",
            "days_since(last_activity_at) > 300", "--key", "lead_id", "--as-of", AS_OF]
    s = cleanup(files["model"], files["data"], below=5,
                inactive="days_since(last_activity_at) > 300", key="lead_id",
                as_of=AS_OF).summary()
    assert as_json(*args) == {**s, "output": None}
    check_rows(as_csv(*args), s["reasons"] + [
        {"reason": "dead (any reason)", "leads": s["dead"], "share": s["share"]},
        {"reason": "all leads", "leads": s["leads"], "share": 1.0}])
    out = tmp_path / "dead.parquet"
    assert as_json(*args, "-o", out)["output"] == str(out) and out.exists()


# -- hand-picked ------------------------------------------------------------------------------

def test_an_id_of_658831_prints_as_658831(tmp_path):
    model = tmp_path / "m.yaml"
    model.write_text(REFERENCE_MODEL_YAML)
    table = generate_leads(20, seed=3)
    ids = pa.array([658831 + i for i in range(20)], pa.int64())
    table = table.set_column(table.column_names.index("lead_id"), "lead_id", ids)
    data = tmp_path / "leads.parquet"
    write_output(table, data)
    base = ["query", model, data, "select", "lead_id = 658831", "-c", "lead_id"]
    assert [r["lead_id"] for r in as_json(*base)] == [658831]
    text = run(*base, "--format", "csv").stdout
    assert text.splitlines()[1].endswith(",658831") and "658,831" not in text
    assert "658831" in run(*base).stdout and "658,831" not in run(*base).stdout  # the table too
    top = ["query", model, data, "top", "1", "--by", "lead_id"]
    assert as_json(*top)[0]["lead_id"] == 658850 and "658850" in run(*top).stdout
    ex = ["explain", model, data, "--where", "lead_id = 658831", "--keep", "lead_id"]
    assert as_json(*ex)[0]["keep"] == {"lead_id": 658831}
    assert "658,831" not in run(*ex, "--format", "csv").stdout


def test_segments_in_label_order_everywhere(files, tmp_path):
    """tier's labels are hot, warm, cold; by count the order is cold, warm, hot: the score
    summary (JSON and table) and `segment` list them in label order, as does rescore."""
    labels = ["hot", "warm", "cold"]
    summary = lf.summarize(files["model"], files["data"], segmentation="tier", as_of=AS_OF)
    counts = summary.column("count").to_pylist()
    assert counts != sorted(counts, reverse=True)  # the two orders differ on this data
    assert summary.column("segment").to_pylist() == labels
    r = run("score", files["old"], files["data"], "-o", tmp_path / "o.parquet", "--as-of",
            AS_OF, "--json")
    s = json.loads(r.stdout)
    assert [x["segment"] for x in s["segments"]["tier"]] == labels
    assert [x["segment"] for x in s["segments"]["grade"]] == \
        lf.summarize(files["model"], files["data"], segmentation="grade").column("segment") \
        .to_pylist() == ["A", "B", "C"]  # bands: the highest band first
    assert [x["leads"] for x in s["segments"]["tier"]] == counts
    err = run("score", files["old"], files["data"], "-o", tmp_path / "o.parquet", "--as-of",
              AS_OF).stderr
    assert err.index("\nhot ") < err.index("\nwarm ") < err.index("\ncold ")
    out = run("segment", files["old"], files["data"], "--as-of", AS_OF).stdout
    assert out.index("hot") < out.index("warm") < out.index("cold")
    assert [r["segment"] for r in as_json("segment", files["old"], files["data"], "--by", "tier",
                                          "--as-of", AS_OF)] == labels
    pytest.importorskip("adbc_driver_sqlite")
    from leadscore_fast.demo_db import seed

    db = tmp_path / "leads.db"
    seed(str(db), files["table"])
    for extra in ([], ["--in-database"]):  # counted from the batches, and by the database
        r = run("rescore", files["old"], "--db", f"sqlite:///{db}", "--table", "leads", "--key",
                "lead_id", "--as-of", AS_OF, "--json", *extra)
        got = json.loads(r.stdout)["segments"]["tier"]
        assert [x["label"] for x in got] == labels and [x["leads"] for x in got] == counts


def test_score_summary_lists_labels_no_lead_has(tmp_path):
    """As `segment` does: a label with no leads is listed with 0; unassigned leads last."""
    model = tmp_path / "m.yaml"
    model.write_text("name: m\nscores:\n  s:\n    expr: x\nsegments:\n  band:\n"
                     "    - {when: s >= 10, name: top}\n    - {when: s >= 2, name: high}\n"
                     "    - {when: s >= 1, name: low}\n")
    data = tmp_path / "in.parquet"
    write_output(pa.table({"x": pa.array([1.0, None, 3.0, 2.0, 0.5])}), data)
    s = json.loads(run("score", model, data, "-o", tmp_path / "o.parquet", "--json").stdout)
    assert [(x["segment"], x["leads"]) for x in s["segments"]["band"]] == \
        [("top", 0), ("high", 2), ("low", 1), (None, 2)]


def test_query_top_shows_the_scores_and_the_key_column_by_default(files):
    m = files["model"]
    got = as_json("query", files["old"], files["data"], "top", "3", "--by", "total")
    assert list(got[0]) == ["rank", *m.score_names, *m.segment_names, "lead_id"]
    want = lf.top_k(m, files["data"], 3, by="total", columns=["lead_id"])
    assert got == want.to_pylist()
    out = run("query", files["old"], files["data"], "top", "3", "--by", "total").stdout
    assert "lead_id" in out and "industry" not in out and "…" not in out
    # -c still picks the columns
    got = as_json("query", files["old"], files["data"], "top", "2", "--by", "total",
                  "-c", "industry")
    assert list(got[0])[-1] == "industry" and "lead_id" not in got[0]


@pytest.mark.parametrize("names, key", [
    (["industry", "lead_id", "x"], "lead_id"),
    (["Lead Origin", "Prospect ID", "Lead Number"], "Prospect ID"),
    (["score", "leadId"], "leadId"),
    (["id", "name"], "id"),
    (["valid", "paid", "kid_count"], None),  # ends in "id" but not a key word
])
def test_key_column(names, key):
    from leadscore_fast.cli import key_column

    schema = pa.schema([(n, pa.string() if " " in n else pa.int64()) for n in names])
    assert key_column(schema) == key


def test_query_format_before_or_after_the_command(files):
    base = [files["old"], files["data"]]
    want = run("query", *base, "count", "tier = 'hot'", "--json").stdout
    assert run("query", "--format", "json", *base, "count", "tier = 'hot'").stdout == want
    assert run("query", "--format", "csv", *base, "count", "tier = 'hot'", "--json").stdout \
        == want  # the command's own option wins


@pytest.mark.parametrize("cmd", REPORTS)
def test_bad_format_values_say_what_is_wrong(files, cmd):
    args = {"segment": [files["old"], files["data"]],
            "query": [files["old"], files["data"], "count", "total > 1"],
            "diff": [files["old"], files["new"], files["data"]],
            "rules": [files["old"], files["data"]],
            "evaluate": [files["old"], files["data"], "--label", "converted"],
            "explain": [files["old"], files["data"], "--where", "lead_id = 1"],
            "drift": [files["old"], files["data"], files["data"]],
            "cleanup": [files["old"], files["data"], "--below", "5"]}[cmd]
    r = run(cmd, *args, "--format", "xml", ok=False)
    assert r.exit_code == 2 and "'xml' is not one of 'table', 'json', 'csv'" in r.stderr
    r = run(cmd, *args, "--format", "parquet", ok=False)
    assert r.exit_code == 2 and "--input-format parquet" in r.stderr
    r = run(cmd, *args, "--format", "csv", "--json", ok=False)
    assert r.exit_code == 2 and "--json is --format json" in r.stderr
    assert "Traceback" not in r.output
    assert run(cmd, *args, "--format", "JSON").stdout.lstrip()[0] in "[{"  # any case


@pytest.mark.parametrize("cmd", REPORTS + ["score", "check", "compile", "sql", "learn"])
def test_every_input_reading_command_takes_input_format(cmd):
    """One meaning per option: --input-format is the input's format on every command,
    --format the report's on the report commands (hidden old spelling elsewhere)."""
    h = run(cmd, "--help").stdout
    assert "--input-format" in h
    assert ("--format [table|json|csv]" in h) == (cmd in REPORTS), h
    if cmd in REPORTS:
        assert "Shorthand for --format json" in h


def test_input_format_reads_a_file_without_its_extension(files, tmp_path):
    data = tmp_path / "leads.dat"
    data.write_bytes(files["data"].read_bytes())
    for args in (["segment", files["old"], data], ["rules", files["old"], data],
                 ["query", files["old"], data, "count", "total > 1"],
                 ["query", "--input-format", "parquet", files["old"], data, "count",
                  "total > 1"]):
        if "--input-format" not in args:
            args = args + ["--input-format", "parquet"]
        assert run(*args, "--json").stdout.strip()


def _documented_command_lines():
    """(where, command, options) of every `leadscore ...` line in README's code blocks and
    the examples' comments, continuation lines included."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    texts = [("README.md", (root / "README.md").read_text())]
    texts += [(p.name, p.read_text()) for p in sorted((root / "examples").glob("*.yaml"))]
    out = []
    for name, text in texts:
        current, fenced = None, not name.endswith(".md")  # README: its code blocks only
        for line in text.splitlines():
            if line.startswith("```"):
                fenced, current = not fenced, None
                continue
            if not fenced:
                continue
            body = re.sub(r"^\s*#?\s*(\$ )?", "", line)
            m = re.match(r"leadscore ([a-z]+)\b(.*)", body)
            if m:
                current = [name, m.group(1), m.group(2)]
                out.append(current)
            elif current is not None and re.match(r"^\s*#?\s{3,}[\[\-]", line):
                current[2] += " " + body  # a continuation line
            else:
                current = None
    return [(n, cmd, sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest.split("#")[0]))))
            for n, cmd, rest in out]


def test_documented_command_lines_use_real_options():
    """Every option on a `leadscore ...` line of the README and the examples is one the
    command (or, for query, one of its subcommands) takes."""
    lines = _documented_command_lines()
    assert len(lines) > 20
    helps = {}
    for where, cmd, options in lines:
        if cmd not in helps:
            h = run(cmd, "--help").stdout
            if cmd == "query":
                for sub in ("count", "select", "top", "histogram", "quantiles"):
                    h += run(cmd, "M", "I", sub, "--help").stdout
            helps[cmd] = h
        for opt in options:
            assert f"{opt} " in helps[cmd] or f"{opt}," in helps[cmd] or \
                f"{opt}\n" in helps[cmd], (where, cmd, opt)


def test_json_shapes_are_the_documented_ones(files, tmp_path):
    """The keys README's "Output for scripts" lists, per command (change both together)."""
    typo = tmp_path / "typo.yaml"
    typo.write_text(files["old"].read_text().replace("'software'", "'sofware'"))
    old, data = files["old"], files["data"]
    h = as_json("rules", typo, data, "--label", "converted")
    assert list(h) == ["leads", "label", "conversion_rate", "rules", "warnings"]
    assert list(h["rules"][0]) == ["score", "rule", "condition", "true", "false", "null", "share",
                                   "mean_contribution", "mean_when_hit", "capped", "floored",
                                   "conversion_hits", "lift"]
    assert {k for w in h["warnings"] for k in w} == {"kind", "score", "rule", "column",
                                                     "message", "value", "suggestion"}
    ev = as_json("evaluate", old, data, "--label", "converted", "--capacity", "10",
                 "--threshold", "30")
    assert set(ev) == {"score", "leads", "conversions", "conversion_rate", "auc", "ks", "ks_at",
                       "unlabelled", "deciles", "segments", "histogram", "capacity", "threshold"}
    assert list(ev["deciles"][0]) == ["decile", "min_score", "max_score", "leads", "conversions",
                                      "rate", "gains", "lift"]
    assert list(ev["segments"][0]) == ["segmentation", "segment", "leads", "share",
                                       "conversions", "rate", "lift"]
    assert list(ev["histogram"]) == ["edges", "converted", "not_converted"]
    assert list(ev["capacity"]) == ["capacity", "threshold", "leads", "conversions", "rate",
                                    "caught"]
    assert list(ev["threshold"]) == ["threshold", "leads", "conversions", "rate", "caught"]
    d = as_json("drift", old, files["half"], data)
    assert list(d) == ["reference_leads", "current_leads", "scores", "segments", "rules",
                       "columns", "warnings"]
    assert [list(d[k][0]) for k in ("scores", "segments", "rules", "columns")] == [
        ["score", "psi", "flag", "edges", "reference", "current"],
        ["segmentation", "segment", "reference_share", "current_share", "change"],
        ["score", "rule", "reference_hit_rate", "current_hit_rate", "change"],
        ["column", "reference_null_rate", "current_null_rate", "change", "flagged"]]
    c = as_json("cleanup", old, data, "--below", "5")
    assert list(c) == ["leads", "dead", "share", "reasons", "output"]
    assert list(c["reasons"][0]) == ["reason", "leads", "share"]
    e = as_json("explain", old, data, "--where", "lead_id = 3", "--keep", "lead_id")
    assert list(e[0]) == ["keep", "scores", "segments"]
    assert list(e[0]["scores"][0]) == ["score", "value", "rules", "range"]
    assert list(e[0]["scores"][0]["rules"][0]) == ["rule", "condition", "points", "cap", "floor",
                                                   "contribution"]
    assert list(e[0]["segments"][0]) == ["segmentation", "segment", "cases"]
    diff = as_json("diff", old, files["new"], data, "--score", "total", "--threshold", "30")
    assert list(diff) == ["migration", "crossings"]
    assert list(diff["migration"][0]) == ["segmentation", "old", "new", "count"]
    assert list(diff["crossings"][0]) == ["score", "threshold", "up", "down", "up_leads",
                                          "down_leads"]
    assert list(diff["crossings"][0]["up_leads"][0]) == ["row", "previous", "current"]
