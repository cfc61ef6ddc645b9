"""Rapports d'alimentation: listing, filters, detail, export and pruning of recorded runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from enttui.config import Config, StateConfig
from enttui.errors import ValidationError
from enttui.jobs.reports import (
    count_rows,
    counts_summary,
    cycle,
    export_run_report,
    format_duration,
    kind_label,
    list_reports,
    options_text,
    prune_old_runs,
    run_as_dict,
    run_detail,
    run_report_text,
)
from enttui.services.container import Services
from enttui.services.state import INTERRUPTED, SIMULATED, SUCCESS, WITH_ERRORS


async def seed_runs(store, clock) -> list[int]:
    """One run of each kind and status, five minutes apart (oldest first)."""
    plan = [
        ("sync", SUCCESS, {"users": True, "cohorts": True}, {"users": {"created": 12, "updated": 3}}),
        ("diffusion", WITH_ERRORS, {"targets": ["eleve", "parent"]}, {"sent": 40, "not_sent": 2, "errors": 1}),
        ("regeneration", SUCCESS, {"uai": "0123456A", "since": "2026-09-01"}, {"accounts": 25, "files": 1}),
        ("import", INTERRUPTED, {"file": "comptes.csv"}, {"rows": 10}),
        ("sync", SIMULATED, {"simulate": True, "users": True}, {"users": {"created": 5}}),
    ]
    ids = []
    for i, (kind, status, options, counts) in enumerate(plan):
        run_id = await store.start_run(kind, options, user="admin")
        await store.add_trace(
            run_id,
            [
                ("info", "users", f"Début du traitement {i}"),
                ("change", "users", "Création de jean.dupont"),
                ("error", "users", "Refusé : marie.curie (adresse invalide)"),
                ("info", "", "Fin"),
            ],
        )
        clock.advance(minutes=2)
        await store.finish_run(run_id, status, counts, summary=f"Résumé {i}")
        clock.advance(minutes=3)
        ids.append(run_id)
    return ids


def services_for(store, tmp_path: Path, days: int = 365) -> Services:
    cfg = Config(state=StateConfig(url="sqlite://", files_dir=str(tmp_path), runs_retention_days=days))
    return Services(config=cfg, directory=None, state=store)  # type: ignore[arg-type]


async def test_list_newest_first_and_filters(state_store, state_clock, tmp_path):
    ids = await seed_runs(state_store, state_clock)
    services = services_for(state_store, tmp_path)
    runs = await list_reports(services)
    assert [r.id for r in runs] == list(reversed(ids))
    assert [r.id for r in await list_reports(services, kind="sync")] == [ids[4], ids[0]]
    assert [r.id for r in await list_reports(services, status=WITH_ERRORS)] == [ids[1]]
    assert [r.id for r in await list_reports(services, kind="sync", status=SIMULATED)] == [ids[4]]
    assert await list_reports(services, kind="import", status=SUCCESS) == []
    assert runs[0].user == "admin"


async def test_detail_trace_search_and_errors(state_store, state_clock, tmp_path):
    ids = await seed_runs(state_store, state_clock)
    services = services_for(state_store, tmp_path)
    detail = await run_detail(services, ids[1])
    assert detail is not None and detail.run.kind == "diffusion"
    assert detail.trace[0].text == "Début du traitement 1"
    assert detail.error_lines == [2]
    found = await run_detail(services, ids[1], search="MARIE")
    assert [t.text for t in found.trace] == ["Refusé : marie.curie (adresse invalide)"]
    assert await run_detail(services, 9999) is None


async def test_export_writes_a_private_report(state_store, state_clock, tmp_path):
    ids = await seed_runs(state_store, state_clock)
    services = services_for(state_store, tmp_path)
    path = tmp_path / "rapport.txt"
    assert await export_run_report(services, ids[0], path) == 4
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"Rapport d'alimentation n° {ids[0]} : Synchronisation Moodle")
    assert "Statut : réussi" in text and "Comptes utilisateur : 12 créés" in text and "ERREUR" in text
    assert "Durée : 2 min 00 s" in text
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValidationError, match="existe déjà"):
        await export_run_report(services, ids[0], path)
    await export_run_report(services, ids[1], path, overwrite=True)
    assert "Diffusion des identifiants" in path.read_text(encoding="utf-8")
    audit = await state_store.list_audit()
    assert any(a.action == "export" for a in audit)


async def test_prune_by_retention(state_store, state_clock, tmp_path):
    ids = await seed_runs(state_store, state_clock)
    state_clock.advance(days=10)
    recent = await state_store.start_run("sync", {}, user="admin")
    await state_store.finish_run(recent, SUCCESS, {})
    assert await prune_old_runs(services_for(state_store, tmp_path, days=0)) == 0  # 0 = keep everything
    assert await prune_old_runs(services_for(state_store, tmp_path, days=5)) == len(ids)
    assert [r.id for r in await list_reports(services_for(state_store, tmp_path))] == [recent]


def test_formatting_helpers(state_clock):
    assert format_duration(timedelta(seconds=4)) == "4 s"
    assert format_duration(timedelta(seconds=125)) == "2 min 05 s"
    assert format_duration(timedelta(hours=1, minutes=3)) == "1 h 03 min"
    assert format_duration(None) == "—"
    assert kind_label("regeneration") == "Régénération" and kind_label("autre") == "autre"
    counts = {"users": {"created": 3, "updated": 0}, "errors": 1, "sent": 4, "note": "x"}
    assert count_rows(counts)[0] == ("Comptes utilisateur", "créés", "3")
    assert counts_summary(counts) == "3 créés · 1 erreur · 4 envoyés"
    assert counts_summary({}) == "—"
    # Agreement with the entity and the number; every key of a diffusion in French.
    cohorts = count_rows({"cohorts": {"created": 26, "updated": 1}})
    assert cohorts == [("Cohortes", "créées", "26"), ("Cohortes", "modifiée", "1")]
    diffusion = count_rows({"changed": 3, "revived": 2, "in_file": 1, "mailed": 2, "errors": 0})
    assert [what for _e, what, _v in diffusion] == [
        "mots de passe changés",
        "réactivés",
        "dans le fichier",
        "identifiants envoyés",
        "erreur",
    ]
    assert options_text({"users": True, "force": False, "targets": ["eleve", "parent"], "uai": "X"}) == (
        "comptes utilisateur · cibles : Élève, Parent · périmètre : X"
    )
    assert options_text({"free_text": "Bonne rentrée"}) == "texte libre : « Bonne rentrée »"
    assert cycle(["a", "b"], None) == "a" and cycle(["a", "b"], "b") is None


async def test_as_dict_and_text(state_store, state_clock, tmp_path):
    ids = await seed_runs(state_store, state_clock)
    detail = await run_detail(services_for(state_store, tmp_path), ids[3])
    doc = run_as_dict(detail.run)
    assert doc["status"] == INTERRUPTED and doc["duration_s"] == 120.0 and doc["options"] == {"file": "comptes.csv"}
    assert "Options : fichier : comptes.csv" in run_report_text(detail.run, detail.trace)


async def test_cli_reports_json(state_store, state_clock, tmp_path, capsys, monkeypatch):
    """``enttui reports --json`` on a configuration whose state store holds runs."""
    import json

    from enttui.cli import main

    await seed_runs(state_store, state_clock)
    db = Path(str(state_store.engine.url.database))
    cfg = tmp_path / "enttui.toml"
    cfg.write_text(
        '[ent]\nuai = ["0123456A"]\n[ldap]\nurls = ["ldap://127.0.0.1:9"]\nbase_dn = "dc=x"\nconnect_timeout = 0.2\n'
        f'[state]\nurl = "sqlite:///{db}"\nfiles_dir = "{tmp_path / "ids"}"\nruns_retention_days = 100000\n',
        encoding="utf-8",
    )
    await state_store.close()
    import asyncio

    code = await asyncio.to_thread(main, ["reports", "--json", "--config", str(cfg), "--kind", "sync"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["count"] == 2 and {r["kind"] for r in out["runs"]} == {"sync"}
