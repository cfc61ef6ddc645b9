"""enttui reports [--json]: the recorded feed runs (Rapports d'alimentation), newest first."""

from __future__ import annotations

import argparse
import json

from enttui.cli import command, open_from_args
from enttui.errors import EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from enttui.domain.runs import RunKind, RunStatus

    parser = sub.add_parser("reports", parents=[common], help="traitements enregistrés (rapports d'alimentation)")
    parser.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")
    parser.add_argument("--kind", choices=[k.value for k in RunKind], help="seulement ce type de traitement")
    parser.add_argument("--status", choices=[s.value for s in RunStatus], help="seulement ce statut")
    parser.add_argument("--limit", type=int, default=50, help="nombre maximal de traitements (50)")
    parser.add_argument("--run", type=int, metavar="N", help="le détail d'un traitement (options, comptes, trace)")


@command("reports")
async def cmd_reports(args: argparse.Namespace) -> int:
    from enttui.errors import ValidationError
    from enttui.jobs.reports import (
        count_rows,
        counts_summary,
        format_duration,
        format_moment,
        kind_label,
        list_reports,
        options_text,
        prune_old_runs,
        run_as_dict,
        run_detail,
        school_lines,
        trace_line_text,
    )

    services = await open_from_args(args)
    try:
        pruned = await prune_old_runs(services)
        if args.run is not None:
            detail = await run_detail(services, args.run)
            if detail is None:
                raise ValidationError(f"Le traitement n° {args.run} n'existe pas.")
            runs = [detail.run]
        else:
            detail = None
            runs = await list_reports(services, kind=args.kind, status=args.status, limit=max(1, args.limit))
    finally:
        await services.close()
    if args.json:
        doc: dict[str, object] = {"pruned": pruned, "count": len(runs), "runs": [run_as_dict(r) for r in runs]}
        if detail is not None:
            doc["trace"] = [
                {"seq": t.seq, "at": t.at.isoformat(), "level": t.level, "entity": t.entity, "text": t.text}
                for t in detail.trace
            ]
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return EXIT_OK
    if detail is not None:
        r = detail.run
        print(f"Traitement n° {r.id} : {kind_label(r.kind)}, {r.status}")
        print(f"  {format_moment(r.started_at)}, durée {format_duration(r.duration)}, lancé par {r.user}")
        print(f"  Options : {options_text(r.options)}")
        for entity, what, value in count_rows(r.counts):
            print(f"  {entity or '—'} : {what} {value}")
        for line in school_lines(r.counts):
            print(f"  Par établissement : {line}")
        for t in detail.trace:
            print("  " + trace_line_text(t))
        return EXIT_OK
    if not runs:
        print("Aucun traitement enregistré.")
    for r in runs:
        print(
            f"{r.id:>5}  {format_moment(r.started_at)}  {format_duration(r.duration):>12}  "
            f"{kind_label(r.kind):<27} {r.status:<13} {r.user:<10} {counts_summary(r.counts)}"
        )
    return EXIT_OK
