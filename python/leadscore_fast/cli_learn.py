"""``leadscore learn``: learn a points model (scorecard) of --target from DATA and write it as
an ordinary model file (see leadscore_fast.learning)."""
from __future__ import annotations

import json

import click

from leadscore_fast.cli_common import (as_of_option_value, errors_to_exit, legacy_input_options,
                                       open_input)

__all__ = ["learn_cmd"]


def _range(value):
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value.split(":"))
    except ValueError:
        raise click.BadParameter(f"expected LO:HI such as 0:100, got {value!r}") from None
    return lo, hi


@click.command("learn")
@click.argument("input_path", metavar="DATA")
@click.option("--target", required=True, metavar="COL",
              help="Outcome column (0/1, boolean, or two strings such as yes/no).")
@click.option("--positive", metavar="VALUE", help="For a text target: the value that means a "
              "conversion (default: yes/y/true/1 against no/n/false/0, any case).")
@click.option("--exclude", multiple=True, metavar="COL", help="Leave this column out (repeatable).")
@click.option("--columns", multiple=True, metavar="COL",
              help="Learn from these columns only (repeatable; default: all but the target).")
@click.option("--allow", multiple=True, metavar="COL",
              help="Keep this column although the leakage guard flags it (repeatable).")
@click.option("--points", "points", metavar="LO:HI",
              help="Scale the totals to this range (default 0:100).")
@click.option("--pdo", type=float, metavar="N",
              help="Instead: N points double the odds (with --base and --odds).")
@click.option("--base", type=float, default=600, show_default=True, metavar="N",
              help="With --pdo: the total at odds --odds.")
@click.option("--odds", type=float, default=50, show_default=True, metavar="X",
              help="With --pdo: the odds (conversion : not) that get --base points.")
@click.option("--holdout", type=click.FloatRange(0, 1, max_open=True), default=0.3,
              show_default=True, help="Share of rows held out for the report (stratified).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the holdout split.")
@click.option("--max-bins", type=click.IntRange(min=2), default=8, show_default=True,
              help="At most this many bins per numeric column (NULL aside).")
@click.option("--as-of", metavar="TS", help="Reference time for dates (days_since; default now).")
@click.option("--compare", metavar="MODEL.yaml",
              help="Also measure this model's score on the same holdout.")
@click.option("--compare-score", default="total", show_default=True, metavar="SCORE",
              help="The score of --compare to measure.")
@click.option("--no-baselines", is_flag=True,
              help="Skip the logistic regression and gradient boosting comparisons.")
@click.option("--name", default="learned", show_default=True, help="The model's name.")
@click.option("-o", "--output", required=True, metavar="MODEL.yaml", help="Write the model here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@legacy_input_options
@errors_to_exit
def learn_cmd(input_path, target, positive, exclude, columns, allow, points, pdo, base, odds,
              holdout, seed, max_bins, as_of, compare, compare_score, no_baselines, name,
              output, as_json, input_format, delimiter, null_values):
    """Learn a points model of --target from DATA (anything `score` reads) and write it to -o."""
    from leadscore_fast.learning import learn

    if points is not None and pdo is not None:
        raise click.UsageError("give --points or --pdo, not both")
    source = open_input(input_path, input_format, delimiter, null_values)
    result = learn(source, target, exclude=exclude, columns=list(columns) or None,
                   allow=allow, positive=positive, points=_range(points),
                   pdo=(pdo, base, odds) if pdo is not None else None, holdout=holdout,
                   seed=seed, max_bins=max_bins, as_of=as_of_option_value(as_of),
                   compare=compare, compare_score=compare_score,
                   baselines=not no_baselines, name=name)
    result.save(output)
    if as_json:
        click.echo(json.dumps(result.report.to_dict(), indent=2, default=str))
        return
    click.echo(str(result.report))
    click.echo(f"\nwrote {output}")
