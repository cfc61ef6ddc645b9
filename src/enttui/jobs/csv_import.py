"""Import of local accounts from a CSV file: a preview that never writes, then a confirmed apply.

The file's encoding and separator are detected (:mod:`enttui.domain.csv_read`). Every row gets a
result: *création*, *modification* (with what changes), *inchangé*, or *erreur* with its French
reasons; one bad row never hides the others. Rows are keyed on the jointure (``ENT$<key>``), so a
second run of the same file changes nothing (idempotent). The apply re-plans against the
directory as it is at that moment, writes, and is recorded as a run of kind ``import`` (it appears
in "Rapports d'alimentation", with its trace and counts). Cancelled, it starts no new write, waits
for those under way and reports exactly what was written.

An empty cell clears the attribute (the file is the truth for the columns it has); a column absent
from the file leaves that attribute as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enttui.domain.csv_read import read_table
from enttui.domain.dn import lookup_key
from enttui.domain.french import plural
from enttui.domain.local_account_rows import ParsedFile, ParsedRow, parse_import
from enttui.domain.logins import next_free_login
from enttui.domain.runs import RunStatus
from enttui.errors import EnttuiError, ValidationError
from enttui.jobs import local_accounts
from enttui.jobs.events import EventSink, Phase, Progress, Trace, null_sink
from enttui.jobs.locking import job_lock
from enttui.services.container import Services
from enttui.services.locks import JobLock

__all__ = [
    "ACTION_LABELS",
    "ImportPreview",
    "ImportResult",
    "RowPlan",
    "apply_import",
    "check_input_path",
    "plan_import",
    "preview_import",
]

ACTION_LABELS = {"create": "création", "update": "modification", "unchanged": "inchangé", "error": "erreur"}
CONCURRENCY = 4
WRITE_BATCH = 200  # writes sent together; the progress and the cancellation go by batch
TRACE_BATCH = 500


@dataclass(frozen=True)
class RowPlan:
    line: int
    jointure: str
    label: str
    action: str  # create | update | unchanged | error
    reasons: tuple[str, ...] = ()  # the errors, or what changes
    login: str = ""  # the login a creation will get, or the account's
    dn: str = ""
    row: ParsedRow | None = None
    changes: dict[str, list[str] | None] = field(default_factory=dict)

    @property
    def action_label(self) -> str:
        return ACTION_LABELS[self.action]

    @property
    def detail(self) -> str:
        return " ; ".join(self.reasons)


@dataclass(frozen=True)
class ImportPreview:
    path: str
    parsed: ParsedFile
    rows: tuple[RowPlan, ...]

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.action for r in self.rows)
        return {a: c.get(a, 0) for a in ACTION_LABELS}

    @property
    def writes(self) -> int:
        c = self.counts
        return c["create"] + c["update"]

    def summary(self) -> str:
        c = self.counts
        return (
            f"{plural(len(self.rows), 'ligne')} : {plural(c['create'], 'création')}, "
            f"{plural(c['update'], 'modification')}, {plural(c['unchanged'], 'inchangée')}, "
            f"{plural(c['error'], 'erreur')}"
        )

    def describe_file(self) -> str:
        t = self.parsed.table
        text = f"{Path(self.path).name} — encodage {t.encoding_label}, séparateur {t.delimiter_label}"
        if self.parsed.ignored:
            ignored = self.parsed.ignored
            text += f" ; {'colonnes ignorées' if len(ignored) > 1 else 'colonne ignorée'} : {', '.join(ignored)}"
        return text


@dataclass(frozen=True)
class ImportResult:
    run_id: int
    counts: dict[str, int]
    status: RunStatus

    @property
    def errors(self) -> int:
        return self.counts.get("errors", 0)


def check_input_path(text: str) -> Path:
    """A file path typed by the admin: no ``..``, no symbolic link, an existing regular file."""
    raw = (text or "").strip()
    if not raw:
        raise ValidationError("Indiquez le chemin du fichier CSV à importer.")
    if "\x00" in raw:
        raise ValidationError("Chemin invalide.")
    path = Path(raw).expanduser()
    if ".." in path.parts:
        raise ValidationError(f"Chemin refusé : « {raw} » contient « .. ».")
    path = path if path.is_absolute() else Path.cwd() / path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ValidationError(f"Fichier introuvable : {path}") from None
    except OSError as exc:
        raise ValidationError(f"Fichier illisible : {path} ({exc.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise ValidationError(f"Chemin refusé : {path} est un lien symbolique.")
    if not stat.S_ISREG(st.st_mode):
        raise ValidationError(f"{path} n'est pas un fichier ordinaire.")
    return path


def _read_bytes(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read()


async def preview_import(services: Services, path_text: str, sink: EventSink = null_sink) -> ImportPreview:
    """Read, validate and plan the file against the directory. Writes nothing."""
    path = check_input_path(path_text)
    sink(Phase("import", "Lecture du fichier"))
    try:
        data = await asyncio.to_thread(_read_bytes, path)
    except OSError as exc:
        raise ValidationError(f"Fichier illisible : {path} ({exc.strerror or exc})") from None
    cfg = services.config
    try:
        table = read_table(data)
        parsed = parse_import(
            table, local_source=cfg.ent.local_source, perimeter=cfg.ent.uai, today=services.clock().date()
        )
    except ValueError as exc:
        raise ValidationError(f"{path} : {exc}.", title="Fichier refusé") from None
    return await plan_import(services, str(path), parsed, sink)


async def plan_import(services: Services, path: str, parsed: ParsedFile, sink: EventSink = null_sink) -> ImportPreview:
    sink(Phase("import", "Lecture de l'annuaire"))
    existing = await local_accounts.find_by_jointures(services)
    schools = await local_accounts.school_dns(services)
    school_set = {lookup_key(dn) for dn in schools.values()}
    taken: set[str] | None = None
    src = services.config.ent.local_source
    plans: list[RowPlan] = []
    for row in parsed.rows:
        jointure = f"{src}${row.fields.jointure_key}" if row.fields else row.raw.get("jointure", "")
        if row.fields is None:
            plans.append(RowPlan(row.line, jointure, row.label, "error", row.errors, row=row))
            continue
        fields = row.fields
        found = existing.get(fields.jointure_key.lower())
        if found is None:
            if fields.uai and fields.uai not in schools:
                plans.append(
                    RowPlan(
                        row.line,
                        jointure,
                        row.label,
                        "error",
                        (f"établissement {fields.uai} absent de l'annuaire",),
                        row=row,
                    )
                )
                continue
            if not schools:
                plans.append(
                    RowPlan(row.line, jointure, row.label, "error", ("aucun établissement du périmètre",), row=row)
                )
                continue
            if taken is None:
                taken = await local_accounts.all_logins(services)
            login = next_free_login(fields.given_name, fields.sn, taken)
            taken.add(login)
            plans.append(RowPlan(row.line, jointure, row.label, "create", (f"identifiant {login}",), login, row=row))
            continue
        dn, attrs = found
        low = {k.lower(): v for k, v in attrs.items()}
        login = (low.get("entpersonlogin") or [""])[0]
        structs = {lookup_key(d) for d in low.get("entpersonstructrattach", [])}
        if not structs & school_set:
            plans.append(
                RowPlan(
                    row.line, jointure, row.label, "error",
                    (f"la jointure est celle d'un compte d'un autre établissement ({dn})",), login, dn, row=row,
                )
            )  # fmt: skip
            continue
        changes, notes = local_accounts.planned_changes(services, attrs, fields, schools=schools, only=fields.present)
        action = "update" if changes else "unchanged"
        plans.append(RowPlan(row.line, jointure, row.label, action, tuple(notes), login, dn, row, changes))
    sink(Progress("import", len(plans), len(parsed.rows)))
    return ImportPreview(path, parsed, tuple(plans))


async def apply_import(
    services: Services, preview: ImportPreview, sink: EventSink = null_sink, *, user: str | None = None
) -> ImportResult:
    """Re-plan against the directory as it is now, write, record the run (kind ``import``).

    Holds the jobs lock from before the run is recorded until it is closed (LockHeldError, exit 3,
    while a diffusion, a regeneration or another import runs).
    """
    async with job_lock(services, "import") as lock:
        return await _apply(services, preview, sink, lock, user=user)


async def _apply(
    services: Services, preview: ImportPreview, sink: EventSink, lock: JobLock, *, user: str | None
) -> ImportResult:
    t = preview.parsed.table
    options: dict[str, Any] = {
        "fichier": preview.path,
        "encodage": t.encoding_label,
        "séparateur": t.delimiter,
        "lignes": len(preview.parsed.rows),
    }
    run_id = await services.state.start_run("import", options, user=user)
    lock.set_run(run_id)
    pending: list[tuple[str, str, str]] = []

    def note(level: str, text: str) -> None:
        pending.append((level, "import", text))
        sink(Trace(level, "import", text))

    async def flush() -> None:
        if len(pending) >= TRACE_BATCH:
            lines = pending[:]
            pending.clear()  # handed over before the await (its thread ends even if we are cancelled): never twice
            await services.state.add_trace(run_id, lines)

    counts = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "errors": 0}
    status = RunStatus.WITH_ERRORS
    try:
        # One plan, against the directory as it is now: it reads every login once and gives each
        # creation its login (the file's order, none twice); the writes use exactly those.
        plan = await plan_import(services, preview.path, preview.parsed, sink)
        counts["rows"] = len(plan.rows)
        note("info", f"Import de {preview.describe_file()} : {plan.summary()}")
        schools = await local_accounts.school_dns(services)
        sem = asyncio.Semaphore(CONCURRENCY)
        stopping = False
        total = len(plan.rows)

        async def one(r: RowPlan) -> tuple[str, str]:
            async with sem:
                if stopping:  # cancelled: no new write starts
                    return "", ""
                try:
                    if r.action == "create":
                        assert r.row is not None and r.row.fields is not None
                        await local_accounts.create_planned_account(
                            services, r.row.fields, login=r.login, schools=schools, lock=lock
                        )
                        return "created", f"ligne {r.line} : {r.jointure} créé, identifiant {r.login}"
                    await services.directory.modify(r.dn, r.changes)
                    return "updated", f"ligne {r.line} : {r.jointure} ({r.login}) modifié : {r.detail}"
                except EnttuiError as exc:
                    return "errors", f"ligne {r.line} : {r.jointure} : {exc.message}"

        writes = [r for r in plan.rows if r.action in ("create", "update")]
        for r in plan.rows:
            if r.action == "error":
                counts["errors"] += 1
                note("error", f"ligne {r.line} : {r.label} : {r.detail}")
            elif r.action == "unchanged":
                counts["unchanged"] += 1
        await flush()
        sink(Phase("import", "Écriture dans l'annuaire"))
        done = total - len(writes)
        sink(Progress("import", done, total))
        for start in range(0, len(writes), WRITE_BATCH):
            batch = writes[start : start + WRITE_BATCH]
            gathered = asyncio.gather(*(one(r) for r in batch))
            cancelled = False
            while not gathered.done():
                try:
                    await asyncio.shield(gathered)
                except asyncio.CancelledError:
                    # The writes under way (worker threads: they cannot be called back) end and
                    # are counted; those not started are skipped; then the cancellation goes on.
                    cancelled = stopping = True
            for outcome, text in gathered.result():
                if outcome:
                    counts[outcome] += 1
                    note("error" if outcome == "errors" else "change", text)
            if cancelled:
                raise asyncio.CancelledError
            await flush()
            done += len(batch)
            sink(Progress("import", done, total))
        status = RunStatus.SUCCESS if counts["errors"] == 0 else RunStatus.WITH_ERRORS
    except asyncio.CancelledError:
        status = RunStatus.INTERRUPTED
        raise
    finally:
        summary = (
            f"{plural(counts['created'], 'création')}, {plural(counts['updated'], 'modification')}, "
            f"{plural(counts['unchanged'], 'inchangé')}, {plural(counts['errors'], 'erreur')}"
        )
        with contextlib.suppress(EnttuiError):
            if pending:
                await services.state.add_trace(run_id, pending)
        await services.state.finish_run(run_id, status, {"import": counts}, summary)
    await services.state.audit("import.comptes_locaux", preview.path, summary, user=user)
    return ImportResult(run_id, counts, status)
