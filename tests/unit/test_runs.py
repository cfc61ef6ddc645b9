"""Run kinds and statuses: the strings the state store has recorded since 0.1.0."""

from __future__ import annotations

import json

import pytest

from enttui.cli import build_parser
from enttui.domain.runs import FINAL_STATUSES, RunKind, RunStatus


def test_values_are_the_stored_strings() -> None:
    assert [k.value for k in RunKind] == ["sync", "diffusion", "regeneration", "import", "export", "check"]
    assert [s.value for s in RunStatus] == ["en cours", "réussi", "avec erreurs", "interrompu", "simulé"]
    assert RunStatus.RUNNING not in FINAL_STATUSES and len(FINAL_STATUSES) == len(RunStatus) - 1


def test_members_are_their_strings() -> None:
    assert RunStatus.SUCCESS == "réussi" and f"{RunStatus.INTERRUPTED}" == "interrompu"
    assert json.dumps({"status": RunStatus.WITH_ERRORS}, ensure_ascii=False) == '{"status": "avec erreurs"}'
    assert RunKind("regeneration") is RunKind.REGENERATION
    with pytest.raises(ValueError):
        RunKind("inconnu")


def test_reports_takes_its_choices_from_the_domain(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["reports", "--kind", "diffusion", "--status", "avec erreurs"])
    assert (args.kind, args.status) == ("diffusion", "avec erreurs")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reports", "--status", "fini"])
    assert "'réussi'" in capsys.readouterr().err  # the choices are named as strings
