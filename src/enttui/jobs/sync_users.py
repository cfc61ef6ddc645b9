"""The "Comptes utilisateur" phase: diff the people read against Moodle's users, then write by batches.

Creations (with their user context), updates (only the fields that differ, renames, revivals) and,
on a forced complete run, suspensions (journalled first: a killed run still knows whom it
suspended). Each batch is one transaction; its trace lines and counts follow its commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from functools import partial
from typing import Any

from enttui.domain import sync as plan
from enttui.domain.sync_report import plural
from enttui.jobs.events import Progress
from enttui.jobs.sync_run import SyncRun
from enttui.services.moodle_sync import chunks

SUSPENDED_KEY = "suspendu:"


async def sync_suspended(run: SyncRun) -> set[int]:
    """Moodle ids the sync suspended (latest journal status per user across real sync runs)."""
    latest = await run.state.journal_latest("sync", SUSPENDED_KEY)
    return {int(k[len(SUSPENDED_KEY) :]) for k, s in latest.items() if s == "suspendu"}


def _created_line(d: plan.DesiredUser) -> str:
    line = f"création de {d.username} ({d.lastname} {d.firstname})".rstrip()
    if d.transliterated:
        line += f", identifiant ENT « {d.login} » translittéré"
    return line


async def _confirm_removals(run: SyncRun, up: plan.UserPlan, rerun: Any) -> plan.UserPlan:
    """Forced runs that would suspend users ask the screen first (never the command line)."""
    cfg = run.cfg
    if not (up.suspends or up.removal_blocked) or run.confirm is None or run.opts.simulate:
        return up
    share = up.removal_candidates / max(1, up.owned_active)
    gone = plural(up.removal_candidates, f"compte « {cfg.auth} » absent", f"comptes « {cfg.auth} » absents")
    verb = "sera suspendu" if up.removal_candidates <= 1 else "seront suspendus"
    message = (
        f"{gone} de l'annuaire {verb} dans Moodle, sur {plural(up.owned_active, 'compte géré', 'comptes gérés')} "
        f"({share:.0%}).\nSeuil configuré : {cfg.max_removal_share:.0%}. Confirmer ces suspensions ?"
    )
    if await run.confirm("removal", "Suspendre des comptes Moodle ?", message):
        return rerun() if up.removal_blocked else up
    up.suspends = []
    up.removal_blocked = ""
    run.trace("warning", "users", "Suspensions refusées par l'opérateur : aucun compte suspendu")
    return up


async def sync_users(run: SyncRun) -> None:
    opts, cfg = run.opts, run.cfg
    run.begin("users", "Comptes utilisateur : calcul des différences")
    desired = [d for d in (run.desired(p) for p in run.people) if d is not None]
    for d in desired:  # the Bilan per school: whose username is whose
        run.user_dns.setdefault(d.username, d.dn)
    full = run.people_full and opts.force and not opts.user_login
    names = None if full else {d.username for d in desired if not d.problem}
    ids = {d.idnumber for d in desired if not d.problem}
    existing = await run.store.users(run.facts.mnet, names, ids)
    kwargs: dict[str, Any] = dict(
        auth=cfg.auth,
        update_only=opts.update_only,
        removals=full,
        policy=cfg.removal,
        sync_suspended=await sync_suspended(run),
        max_share=cfg.max_removal_share,
        allow_mass_removal=opts.allow_mass_removal,
        verbose=opts.verbose,
    )
    up = plan.plan_users(desired, existing, **kwargs)
    if opts.force and not full and not opts.user_login and "people" in run.incomplete:
        run.trace("warning", "users", "Lecture de l'annuaire incomplète : phase de suspension ignorée")
    up = await _confirm_removals(
        run, up, lambda: plan.plan_users(desired, existing, **{**kwargs, "allow_mass_removal": True})
    )
    c = run.counts["users"]
    c.unchanged += up.unchanged
    c.skipped += len(up.skipped)
    for err in up.errors:
        run.error("users", err.text, err.dn)
    if up.removal_blocked:
        run.error("users", up.removal_blocked)
    for text in up.details:
        run.detail("users", text)
    if up.transliterated:
        run.trace(
            "info",
            "users",
            f"{plural(len(up.transliterated), 'identifiant ENT translittéré', 'identifiants ENT translittérés')} "
            "pour Moodle (règle [sync] usernames : accents et ligatures remplacés, autres caractères retirés)",
        )
    run.remember(existing)
    total = len(up.inserts) + len(up.updates) + len(up.suspends)
    progress = _Progress(run, total)
    await _create(run, up.inserts, progress)
    await _update(run, up.updates, progress)
    await _suspend(run, up.suspends, progress)
    if full:
        await _repair_contexts(run)
    run.emit(Progress("users", total, total))
    run.end("users")


class _Progress:
    def __init__(self, run: SyncRun, total: int) -> None:
        self.run, self.total, self.done = run, total, 0

    def step(self, n: int) -> None:
        self.done += n
        self.run.emit(Progress("users", self.done, self.total))


def _simulated_ids(run: SyncRun, batch: Sequence[plan.DesiredUser]) -> dict[str, int]:
    return {d.username: run.sim_id() for d in batch}


async def _create(run: SyncRun, inserts: Sequence[plan.DesiredUser], progress: _Progress) -> None:
    """Creations by batches, two transactions side by side where the database allows it (a first
    run of a region creates a million users); counted and traced in order, after each commit."""
    cfg = run.cfg

    def insert(batch: Sequence[plan.DesiredUser]) -> Awaitable[dict[str, int]]:
        return run.store.insert_users(batch, auth=cfg.auth, facts=run.facts, now=run.now())

    def committed(batch: Sequence[plan.DesiredUser], _ok: bool, created: dict[str, int] | None) -> None:
        for d in batch:
            uid = (created or {}).get(d.username)
            if uid is None:
                continue
            run.counts["users"].created += 1
            run.schools.add(run.school_of_dn(d.dn), "users", "created")
            run.owned_by_name[d.username] = uid
            if d.idnumber:
                run.owned_by_id.setdefault(d.idnumber, uid)
            run.created_dns.append(d.dn)
            run.trace("change", "users", _created_line(d))
        progress.step(len(batch))

    await run.write_side_by_side(
        "users", chunks(inserts, cfg.batch_size), insert, len, partial(_simulated_ids, run), committed
    )


async def _update(run: SyncRun, updates: Sequence[plan.UserUpdate], progress: _Progress) -> None:
    opts, c = run.opts, run.counts["users"]
    for batch in chunks(updates, run.cfg.batch_size):
        revived = [u.id for u in batch if u.revive]
        if revived and not opts.simulate and run.run_id is not None:
            await run.state.journal_set(run.run_id, [(f"{SUSPENDED_KEY}{i}", "réactivé", "") for i in revived])
        now = run.now()
        ok, _ = await run.write(
            "users", partial(run.store.update_users, batch, now), len(batch), simulated=lambda: None
        )
        if not ok:
            progress.step(len(batch))
            continue
        for upd in batch:
            run.owned_by_name[upd.username] = upd.id
            if upd.renamed_from:
                run.trace("change", "users", f"renommage de {upd.renamed_from} en {upd.username}")
            if upd.revive:
                c.revived += 1
                run.schools.add(run.school_of_user(upd.username), "users", "revived")
                run.trace("change", "users", f"réactivation de {upd.username} (de retour dans l'annuaire)")
            fields = sorted(set(upd.changes) - {"username", "suspended"})
            if fields:
                run.trace("change", "users", f"mise à jour de {upd.username} : {', '.join(fields)}")
            if set(upd.changes) - {"suspended"}:
                c.updated += 1
                run.schools.add(run.school_of_user(upd.username), "users", "updated")
        progress.step(len(batch))


async def _suspend(run: SyncRun, suspends: Sequence[plan.MoodleUser], progress: _Progress) -> None:
    opts, cfg = run.opts, run.cfg
    for batch in chunks(suspends, cfg.batch_size):
        if not opts.simulate and run.run_id is not None:  # write-ahead: a killed run still knows whom it suspended
            await run.state.journal_set(run.run_id, [(f"{SUSPENDED_KEY}{m.id}", "suspendu", m.username) for m in batch])
        ids = [m.id for m in batch]
        now = run.now()
        ok, _ = await run.write(
            "users",
            partial(run.store.suspend_users, ids, cfg.auth, now),
            len(batch),
            simulated=lambda: None,
        )
        if ok:
            for m in batch:
                run.counts["users"].suspended += 1
                run.schools.add("", "users", "suspended")  # gone from the directory: no school
                run.trace("change", "users", f"suspension de {m.username} (absent de l'annuaire)")
        progress.step(len(batch))


async def _repair_contexts(run: SyncRun) -> None:
    """Forced complete runs give a user context to the owned users an older tool created without one."""
    missing = await run.store.users_without_context(run.facts.mnet, run.cfg.auth)
    for batch in chunks(missing, run.cfg.batch_size):
        ok, _ = await run.write(
            "users", partial(run.store.add_user_contexts, batch, run.facts), len(batch), simulated=lambda: None
        )
        if ok:
            run.trace("change", "users", f"contexte utilisateur ajouté à {plural(len(batch), 'compte', 'comptes')}")
