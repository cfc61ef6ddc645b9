"""CSV import of local accounts and CSV exports, against the real slapd."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from enttui.config import Config, EntConfig
from enttui.demo.ldif import strip_operational
from enttui.demo.world import SchoolSpec, WorldSpec, generate
from enttui.domain.people import Target
from enttui.domain.runs import RunStatus
from enttui.errors import DestinationExists, ValidationError
from enttui.jobs import csv_export, csv_import, local_accounts
from enttui.jobs.events import Progress
from enttui.services import directory as directory_module
from enttui.services.container import Services
from enttui.services.directory import Directory
from support.fixtures_state import state_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

UAI = "0000001A"
NOW = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)


def world(base: str) -> list:
    spec = WorldSpec(
        base_dn=base,
        schools=(SchoolSpec(UAI, "Collège Test", students=12, teachers=4, staff=2, others=4, classes_per_level=1),),
        role_groups=False,
    )
    return list(strip_operational(generate(spec)))


async def services_for(sandbox, state_store, tmp_path) -> Services:
    cfg = Config(ent=EntConfig(uai=[UAI]), ldap=sandbox.config(), state=state_config(tmp_path))
    directory = Directory(cfg.ldap, cfg.ent)
    await directory.open()
    return Services(config=cfg, directory=directory, state=state_store, clock=lambda: NOW)


ROWS = [
    ["jointure", "nom", "prénom", "e-mail", "profil", "date de fin", "uai"],
    ["2001", "Lefèvre", "Chloé", "chloe@asso.example", "autre", "31/08/2027", UAI],
    ["ENT$2002", "N'Diaye", "Aïcha", "", "tuteur", "", ""],
    ["2003", "Lefèvre", "Chloé", "", "Intervenant", "", ""],
    ["2004", "", "Paul", "paul@", "prof", "32/13/2027", "9999999Z"],
    ["AC-GRIS$5", "Martin", "Léo", "", "", "", ""],
    ["2001", "Double", "Ligne", "", "", "", ""],
]


def write(path: Path, rows, *, delimiter=";", encoding="utf-8") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return str(path)


@pytest.fixture
async def services(ldap_sandbox, state_store, tmp_path):
    ldap_sandbox.add(world(ldap_sandbox.base_dn))
    s = await services_for(ldap_sandbox, state_store, tmp_path)
    try:
        yield s
    finally:
        await s.directory.close()


@pytest.mark.parametrize(
    ("encoding", "delimiter", "label"),
    [
        ("utf-8", ";", "UTF-8"),
        ("utf-8-sig", ",", "UTF-8 avec BOM"),
        ("cp1252", ";", "Windows-1252"),
        ("cp1252", ",", "Windows-1252"),
    ],
)
async def test_import_preview_apply_and_rerun(services, tmp_path, encoding, delimiter, label):
    path = write(tmp_path / "in.csv", ROWS, delimiter=delimiter, encoding=encoding)
    before = await local_accounts.find_by_jointures(services)
    preview = await csv_import.preview_import(services, path)
    assert preview.parsed.table.encoding_label == label and preview.parsed.table.delimiter == delimiter
    assert await local_accounts.find_by_jointures(services) == before  # the preview writes nothing
    actions = [(r.line, r.action) for r in preview.rows]
    assert actions == [(2, "create"), (3, "create"), (4, "create"), (5, "error"), (6, "error"), (7, "error")]
    assert (
        preview.rows[0].detail == "identifiant chloe.lefevre" and preview.rows[2].detail == "identifiant chloe.lefevre2"
    )
    bad = preview.rows[3].detail
    for reason in ("nom manquant", "e-mail invalide", "profil inconnu", "date de fin invalide", "UAI 9999999Z hors"):
        assert reason in bad
    assert "autre source (AC-GRIS)" in preview.rows[4].detail
    assert "en double dans le fichier (déjà ligne 2)" in preview.rows[5].detail

    result = await csv_import.apply_import(services, preview)
    assert result.counts == {"rows": 6, "created": 3, "updated": 0, "unchanged": 0, "errors": 3}
    run = await services.state.get_run(result.run_id)
    assert run.kind == "import" and run.status == "avec erreurs" and run.counts["import"]["created"] == 3
    trace = await services.state.trace(result.run_id)
    assert any("ENT$2002 créé, identifiant aicha.ndiaye" in t.text for t in trace)
    accounts = await local_accounts.find_by_jointures(services)
    assert {"2001", "2002", "2003"} <= set(accounts)
    a = await local_accounts.get_local_account(services, accounts["2001"][0])
    assert a.person.sn == "Lefèvre" and a.person.mail == "chloe@asso.example" and not a.person.activated

    again = await csv_import.preview_import(services, path)
    assert [r.action for r in again.rows][:3] == ["unchanged"] * 3
    second = await csv_import.apply_import(services, again)
    assert second.counts["created"] == second.counts["updated"] == 0 and second.counts["unchanged"] == 3


async def test_import_update_and_absent_columns_are_kept(services, tmp_path):
    await csv_import.apply_import(
        services, await csv_import.preview_import(services, write(tmp_path / "a.csv", ROWS[:3]))
    )
    rows = [["jointure", "nom", "prenom", "email"], ["2001", "Lefèvre", "Chloé", "nouveau@asso.example"]]
    preview = await csv_import.preview_import(services, write(tmp_path / "b.csv", rows))
    assert [r.action for r in preview.rows] == ["update"]
    assert "e-mail : « chloe@asso.example » → « nouveau@asso.example »" in preview.rows[0].detail
    await csv_import.apply_import(services, preview)
    a = await local_accounts.get_local_account(services, (await local_accounts.find_by_jointures(services))["2001"][0])
    assert a.person.mail == "nouveau@asso.example" and a.end_date is not None  # date_fin column absent: kept


async def test_import_refuses_bad_paths_and_files(services, tmp_path):
    for bad in ("", f"{tmp_path}/../x.csv", str(tmp_path / "absent.csv"), str(tmp_path)):
        with pytest.raises(ValidationError):
            await csv_import.preview_import(services, bad)
    target = Path(write(tmp_path / "real.csv", ROWS[:2]))
    (tmp_path / "link.csv").symlink_to(target)
    with pytest.raises(ValidationError, match="lien symbolique"):
        await csv_import.preview_import(services, str(tmp_path / "link.csv"))
    with pytest.raises(ValidationError, match="obligatoire"):
        await csv_import.preview_import(services, write(tmp_path / "h.csv", [["nom", "prenom"], ["A", "B"]]))


async def test_export_generic_bom_neutralised_0600_no_password(services, ldap_sandbox, tmp_path):
    school = (await local_accounts.school_dns(services))[UAI]
    ldap_sandbox.add(
        [
            (
                f"uid=FEVIL,{ldap_sandbox.people_dn}",
                {
                    "objectClass": ["inetOrgPerson", "ENTPerson", "ENTAuxPersExt"],
                    "uid": ["FEVIL"],
                    "cn": ["evil"],
                    "sn": ['=HYPERLINK("http://evil.example";"clic")'],
                    "givenName": ["+Eve"],
                    "ENTPersonLogin": ["eve.evil"],
                    "ENTPersonJointure": ["ENT$666"],
                    "ENTPersonStructRattach": [school],
                    "userPassword": ["Secret-Mot-De-Passe"],
                },
            )
        ]
    )
    out = tmp_path / "personnes.csv"
    result = await csv_export.run_export(services, "personnes", str(out))
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and oct(os.stat(out).st_mode & 0o777) == "0o600"
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["UAI", "Profil", "Nom", "Prénom", "Identifiant", "Mail", "Classe(s)", "Jointure", "État",
                       "Date de création"]  # fmt: skip
    evil = next(r for r in rows if r[4] == "eve.evil")
    assert evil[2] == '\'=HYPERLINK("http://evil.example";"clic")' and evil[3] == "'+Eve"
    assert "Secret-Mot-De-Passe" not in text and "SSHA" not in text
    assert result.rows == len(rows) - 1
    run = await services.state.get_run(result.run_id)
    assert run.kind == "export" and run.counts == {"export": {"rows": result.rows}}

    with pytest.raises(DestinationExists):
        await csv_export.run_export(services, "personnes", str(out))
    again = await csv_export.run_export(services, "personnes", str(out), overwrite=True)
    assert again.rows == result.rows
    with pytest.raises(ValidationError):
        await csv_export.run_export(services, "personnes", f"{tmp_path}/../x.csv")
    (tmp_path / "link.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(ValidationError, match="lien symbolique"):
        await csv_export.run_export(services, "personnes", str(tmp_path / "link.csv"))
    assert not (tmp_path / "elsewhere.csv").exists()


@pytest.mark.parametrize("read_mode", ["one search", "by school"])
async def test_export_filters_and_tool_formats(services, tmp_path, read_mode, monkeypatch):
    if read_mode == "by school":  # the read of a périmètre of more than BY_SCHOOL_ABOVE schools
        monkeypatch.setattr(directory_module, "BY_SCHOOL_ABOVE", 0)
    students = await csv_export.run_export(
        services, "personnes", str(tmp_path / "e.csv"), filt=csv_export.ExportFilter(targets=(Target.ELEVE,))
    )
    assert students.rows == 12
    klass = await csv_export.run_export(
        services, "personnes", str(tmp_path / "c.csv"), filt=csv_export.ExportFilter(klass="3A")
    )
    assert 3 <= klass.rows < 12 + 4
    inactive = await csv_export.run_export(
        services, "personnes", str(tmp_path / "i.csv"), filt=csv_export.ExportFilter(activation="non_actives")
    )
    assert all(
        r[8] == "non activé"
        for r in csv.reader(io.StringIO((tmp_path / "i.csv").read_text("utf-8-sig")), delimiter=";")
        if r[0] != "UAI"
    )
    assert inactive.rows > 0

    await csv_export.run_export(services, "moodle", str(tmp_path / "m.csv"))
    moodle = list(csv.reader(io.StringIO((tmp_path / "m.csv").read_text("utf-8"))))
    assert moodle[0] == [
        "username",
        "firstname",
        "lastname",
        "email",
        "idnumber",
        "auth",
        "cohort1",
        "cohort2",
        "cohort3",
    ]
    assert all(r[5] == "cas" and r[0] == r[0].lower() for r in moodle[1:])
    assert any(r[6] == f"2026_{UAI}$3A" for r in moodle[1:])
    await csv_export.run_export(services, "sacoche", str(tmp_path / "s.csv"))
    sacoche = list(csv.reader(io.StringIO((tmp_path / "s.csv").read_text("utf-8-sig")), delimiter=";"))
    assert sacoche[0] == ["numéro", "genre", "nom", "prenom", "date naiss.", "courriel", "classe", "groupes"]
    assert len(sacoche) == 13 and all(r[1] in ("M", "F") for r in sacoche[1:])
    await csv_export.run_export(services, "gepi", str(tmp_path / "g.csv"))
    gepi = list(csv.reader(io.StringIO((tmp_path / "g.csv").read_text("utf-8-sig")), delimiter=";"))
    assert gepi[0][:4] == ["Nom", "Prénom", "Sexe", "Date de naissance"] and len(gepi) == 13


async def test_custom_profile_saved_0600_and_used(services, tmp_path):
    await csv_export.save_profile(services, "cdi", ["identifiant", "nom", "classes"], [Target.ELEVE])
    path = csv_export.profiles_path(services)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert "cdi" in csv_export.format_names(services)
    result = await csv_export.run_export(services, "cdi", str(tmp_path / "cdi.csv"))
    rows = list(csv.reader(io.StringIO((tmp_path / "cdi.csv").read_text("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Identifiant", "Nom", "Classe(s)"] and result.rows == 12
    with pytest.raises(ValidationError):
        await csv_export.save_profile(services, "moodle", ["nom"])
    with pytest.raises(ValidationError):
        await csv_export.save_profile(services, "x", ["mot_de_passe"])
    await csv_export.delete_profile(services, "cdi")
    with pytest.raises(ValidationError):
        csv_export.resolve_format(services, "cdi")


def many_rows(n: int) -> list[list[str]]:
    return [["jointure", "nom", "prénom"]] + [[f"{3000 + i}", f"Nom{i:04d}", "Zoé"] for i in range(n)]


@pytest.mark.parametrize("when", ["between-batches", "during-writes"])
async def test_interrupted_import_reports_what_it_wrote_and_a_rerun_creates_the_rest(
    services, tmp_path, monkeypatch, when
):
    """Cancelled between two batches (the screen's cancel on a progress event) or while writes are
    under way: the run says exactly what the directory holds, each written row is traced, and the
    same file imported again creates the others, none twice."""
    monkeypatch.setattr(csv_import, "WRITE_BATCH", 20)
    path = write(tmp_path / "many.csv", many_rows(150))
    preview = await csv_import.preview_import(services, path)
    assert preview.counts["create"] == 150
    task: asyncio.Task | None = None

    def sink(event: object) -> None:
        if when == "between-batches" and isinstance(event, Progress) and 0 < event.done < event.total:
            assert task is not None
            task.cancel()

    if when == "during-writes":  # cancelled as the 30th add starts: the adds under way are in worker threads
        add = services.directory.add
        started = 0

        async def add_then_cancel(dn: str, attrs: dict[str, list[str]]) -> None:
            nonlocal started
            started += 1
            if started == 30:
                assert task is not None
                task.cancel()
            await add(dn, attrs)

        monkeypatch.setattr(services.directory, "add", add_then_cancel)

    task = asyncio.ensure_future(csv_import.apply_import(services, preview, sink))
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.undo()
    run = (await services.state.list_runs(kind="import"))[0]
    assert run.status == "interrompu"
    accounts = await local_accounts.find_by_jointures(services)
    written = {k for k in accounts if k.startswith("3")}
    assert 0 < len(written) < 150
    assert run.counts["import"]["created"] == len(written) and run.counts["import"]["errors"] == 0
    traced = {t.text.split(" : ")[1].split(" ")[0] for t in await services.state.trace(run.id) if "créé" in t.text}
    assert traced == {f"ENT${k}" for k in written}

    again = await csv_import.preview_import(services, path)
    assert again.counts["unchanged"] == len(written) and again.counts["create"] == 150 - len(written)
    result = await csv_import.apply_import(services, again)
    assert result.counts["created"] == 150 - len(written) and result.status == RunStatus.SUCCESS
    people = await services.directory.search_all(
        services.config.ldap.people_dn, "(ENTPersonJointure=ENT$3*)", ["ENTPersonJointure", "ENTPersonLogin"]
    )
    assert len(people) == 150
    assert len({p[1]["ENTPersonLogin"][0] for p in people}) == 150  # no login twice


async def test_same_names_in_one_file_get_distinct_logins(services, tmp_path):
    """Rows of the same name written at the same time still get the logins of the preview, each once."""
    rows = [["jointure", "nom", "prénom"]] + [[f"{5000 + i}", "Quastreau", "Zébulon"] for i in range(8)]
    preview = await csv_import.preview_import(services, write(tmp_path / "same.csv", rows))
    planned = [r.login for r in preview.rows]
    assert planned == ["zebulon.quastreau"] + [f"zebulon.quastreau{n}" for n in range(2, 9)]
    result = await csv_import.apply_import(services, preview)
    assert result.counts["created"] == 8
    people = await services.directory.search_all(
        services.config.ldap.people_dn, "(ENTPersonLogin=zebulon.quastreau*)", ["ENTPersonLogin"]
    )
    assert sorted(p[1]["ENTPersonLogin"][0] for p in people) == sorted(planned)


async def test_apply_avoids_a_login_taken_since_the_preview(services, tmp_path):
    """A login given to someone else between the preview and the apply is not given twice."""
    path = write(tmp_path / "a.csv", [["jointure", "nom", "prénom"], ["4001", "Durand", "Inès"]])
    preview = await csv_import.preview_import(services, path)
    assert preview.rows[0].login == "ines.durand"
    fields = preview.rows[0].row.fields
    school = (await local_accounts.school_dns(services))[UAI]
    dn, attrs = local_accounts.entry_for(services, fields, uid="Lmeanwhile", login="ines.durand", school_dn=school)
    attrs["ENTPersonJointure"] = ["AC-GRIS$meanwhile"]
    await services.directory.add(dn, attrs)
    result = await csv_import.apply_import(services, preview)
    assert result.counts["created"] == 1
    trace = await services.state.trace(result.run_id)
    assert any("ENT$4001 créé, identifiant ines.durand2" in t.text for t in trace)
    people = await services.directory.search_all(
        services.config.ldap.people_dn, "(ENTPersonLogin=ines.durand*)", ["ENTPersonLogin"]
    )
    assert sorted(p[1]["ENTPersonLogin"][0] for p in people) == ["ines.durand", "ines.durand2"]
