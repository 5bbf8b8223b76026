"""The lines ``geo-service batch`` prints about its counties, in the user's language."""

from __future__ import annotations

from typing import Any

import typer

from ..core.glossary import message, value_label, word


def batch_report(report: Any, lang: str = "zh") -> None:
    """The batch's counties in words: failures, lost workers and counties, then one summary line."""
    sep = word("sep_comma", lang)
    for o in report.failed:
        typer.echo(message("cli_batch_failed", lang, county=o.dataset_id, job=o.job_id, error=o.error), err=True)
    for w in report.workers_lost:
        again = message("cli_batch_again", lang, counties=sep.join(w["counties"])) if w["counties"] else ""
        typer.echo(message("cli_batch_worker_lost", lang, worker=w["worker"], again=again), err=True)
    if report.lost:
        typer.echo(message("cli_batch_lost", lang, counties=sep.join(o.dataset_id for o in report.lost)), err=True)
    by: dict[str, int] = {}
    for o in report.succeeded:
        by[o.result_status] = by.get(o.result_status, 0) + 1
    bad = by.pop("infeasible", 0)
    skipped = message("cli_batch_skipped", lang, n=len(report.skipped)) if report.skipped else ""
    typer.echo(message("cli_batch_report", lang, id=report.batch_id, n=len(report.outcomes),
                       solved=len(report.succeeded) - bad,
                       by=sep.join(f"{n} {value_label('outcome', st, lang)}" for st, n in by.items())
                       or message("cli_batch_none", lang), bad=bad, failed=len(report.failed), lost=len(report.lost),
                       skipped=skipped, s=report.elapsed_s, workers=report.workers,
                       workers_lost=len(report.workers_lost), retried=len(report.retried),
                       rate=report.counties_per_minute))


__all__ = ["batch_report"]
