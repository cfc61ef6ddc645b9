"""The "Cohortes" phase: directory groups → Moodle cohorts, memberships diffed exactly.

Cohorts are named ``<prefix> <group>`` (with the school when the périmètre holds several, so that two
schools' "3A" stay apart), carry the lock component, and are never row-deleted: a group that
disappeared empties and hides its cohort on a forced run. Moodle's own cohort-enrolment task
(``\\enrol_cohort\\task\\enrol_cohort_sync``, hourly by its cron) then follows the memberships.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from enttui.domain import ldapfilter as lf
from enttui.domain import sync as plan
from enttui.domain.attributes import GROUP_ATTRIBUTES
from enttui.domain.dn import lookup_key
from enttui.domain.people import Group, Structure, group_from_entry
from enttui.domain.sync_report import agree, number, plural
from enttui.jobs.events import Progress
from enttui.jobs.sync_read import (
    Members,
    group_filter,
    read_entries,
    read_group_entries,
    resolve_members,
    since_filter,
)
from enttui.jobs.sync_run import SyncRun
from enttui.services.moodle_sync import chunks

COHORT_TASK = "\\enrol_cohort\\task\\enrol_cohort_sync"
CRON_NOTE = (
    "Inscriptions par cohorte : Moodle les met à jour à la prochaine exécution de sa tâche planifiée "
    f"{COHORT_TASK} (toutes les heures par le cron de Moodle) ; pour les appliquer tout de suite : "
    f"php admin/cli/scheduled_task.php --execute='{COHORT_TASK}'"
)


def school_labels(structures: Sequence[Structure]) -> dict[str, str]:
    """UAI → the label cohort names carry when the périmètre holds several schools (else none).

    The school's name, or its UAI when the name is missing or shared by two schools.
    """
    if len(structures) < 2:
        return {}
    names = [s.name.strip() for s in structures]
    return {s.uai: (n if n and names.count(n) == 1 else s.uai) for s, n in zip(structures, names, strict=True)}


async def sync_cohorts(run: SyncRun) -> None:
    opts, cfg = run.opts, run.cfg
    run.begin("cohorts", "Cohortes : lecture des groupes")
    locked = not opts.no_cohort_lock
    ldap = run.config.ldap
    base = ldap.groups_dn or ldap.base_dn
    single = bool(opts.user_login)
    if single:
        filt = lf.and_(group_filter(run), lf.eq("member", run.people[0].dn))
        entries = await read_entries(run, "groups", base, filt, GROUP_ATTRIBUTES, "cohorts")
    else:
        # Lock disabled: the differential runs over every group and cohort, not the changed ones.
        since = await since_filter(run, ["cohorts"]) if locked else None
        entries = await read_group_entries(
            run, key="groups", entity="cohorts", base=base, filt=group_filter(run), attrs=GROUP_ATTRIBUTES, since=since
        )
    groups = [group_from_entry(dn, attrs) for dn, attrs in entries]
    groups.sort(key=lambda g: (g.cn.lower(), g.dn))
    run.note_groups(groups)
    members = await resolve_members(run, [m for g in groups for m in g.members], "cohorts")
    labels = school_labels(await run.directory.structures())
    desired = [_desired(run, g, members, labels, locked, single) for g in groups]
    vanish = opts.force and not single and "groups" not in run.incomplete
    cohorts = await run.store.cohorts()
    by_idn = {x.idnumber: x for x in cohorts if x.idnumber}
    relevant = {by_idn[d.idnumber].id for d in desired if d.idnumber in by_idn}
    relevant |= {by_idn[d.alt_idnumber].id for d in desired if d.alt_idnumber in by_idn}
    if vanish:
        relevant |= {x.id for x in cohorts if not locked or x.component == cfg.component}
    current = await run.store.cohort_members(relevant)
    cp = plan.plan_cohorts(
        desired,
        cohorts,
        current,
        component=cfg.component,
        locked=locked,
        update_only=opts.update_only or single,
        vanish=vanish,
        verbose=opts.verbose,
    )
    if not locked and run.confirm is not None and not opts.simulate:
        renamed = plural(cp.renamed, "cohorte de la synchronisation", "cohortes de la synchronisation")
        will = "sera renommée" if cp.renamed <= 1 else "seront renommées"
        unlocked = agree("déverrouillé", cp.renamed, True)
        message = (
            f"Verrou de cohortes désactivé : le différentiel porte sur toutes les cohortes de Moodle "
            f"({number(len(cohorts))}).\n{renamed} {will} sans préfixe et {unlocked}, "
            f"{number(len(cp.creates))} {agree('créé', len(cp.creates), True)}, "
            f"{number(len(cp.changes))} {agree('modifié', len(cp.changes), True)}, "
            f"{number(len(cp.vanished))} {agree('vidé et masqué', len(cp.vanished), True)}.\nContinuer ?"
        )
        if not await run.confirm("cohort_unlock", "Désactiver le verrou de cohortes ?", message):
            run.trace("warning", "cohorts", "Cohortes ignorées : désactivation du verrou refusée par l'opérateur")
            run.end("cohorts")
            return
    c = run.counts["cohorts"]
    c.unchanged += cp.unchanged
    c.skipped += cp.skipped
    for err in cp.errors:
        run.error("cohorts", err.text, err.dn)
    for text in cp.details:
        run.detail("cohorts", text)
    if await _write(run, cp):
        run.trace("info", "cohorts", CRON_NOTE)
    run.end("cohorts")


def _desired(
    run: SyncRun, g: Group, members: Members, labels: dict[str, str], locked: bool, single: bool
) -> plan.DesiredCohort:
    opts, cfg = run.opts, run.cfg
    ids: set[int] = set()
    bad = False
    me = lookup_key(run.people[0].dn) if single else None
    for m in g.members:
        why = members.bad.get(m)
        if why is not None:
            bad = True
            if not single:
                run.error("cohorts", f"groupe {g.cn} : membre « {m} » {why} ; ignoré", g.dn)
            continue
        p = members.get(m)
        if p is None:
            run.detail("cohorts", f"groupe {g.cn} : {m} n'est pas une personne synchronisée")
            continue
        if me is not None and lookup_key(p.dn) != me:
            continue
        uid = run.user_id(p)
        if uid is None:
            if opts.update_only:
                run.counts["cohorts"].skipped += 1
            continue
        ids.add(uid)
    school = labels.get(g.uai, "")
    idnumber, name, component = plan.cohort_identity(g, cfg.cohort_prefix, cfg.component, locked, school)
    alt = plan.cohort_identity(g, cfg.cohort_prefix, cfg.component, True, school)[0] if not locked else ""
    complete = members.complete and not bad and not single
    run.detail("cohorts", f"groupe {g.cn} : {plural(len(ids), 'membre synchronisé', 'membres synchronisés')}")
    return plan.DesiredCohort(idnumber, name, component, frozenset(ids), complete, alt, g.cn, g.dn)


def _change_line(x: plan.CohortChange) -> str:
    parts = []
    if "idnumber" in x.values or "component" in x.values:
        parts.append(f"renommée en {x.idnumber}" + (", déverrouillée" if x.values.get("component") == "" else ""))
    elif "name" in x.values:
        parts.append("nom mis à jour")
    if x.values.get("visible") == 1:
        parts.append("de nouveau visible")
    if x.add:
        parts.append(f"+{plural(len(x.add), 'membre', 'membres')}")
    if x.remove:
        parts.append(f"-{plural(len(x.remove), 'membre', 'membres')}")
    return f"cohorte « {x.name} » : {', '.join(parts)}"


async def _write(run: SyncRun, cp: plan.CohortPlan) -> bool:
    """Write the plan by batches; True when some membership changed (the cron note)."""
    cfg, c = run.cfg, run.counts["cohorts"]
    total = len(cp.creates) + len(cp.changes) + len(cp.vanished)
    done = 0
    memberships = False
    for batch in chunks(cp.creates, max(1, cfg.batch_size // 10)):
        now = run.now()
        ok, created = await run.write(
            "cohorts",
            partial(run.store.create_cohorts, batch, context=run.facts.system_context, now=now),
            len(batch),
            simulated=partial(len, batch),
        )
        if ok:
            c.created += created or 0
            for ch in batch if created == len(batch) else ():  # (an idnumber already there: not counted)
                run.count_cohort("created", ch.idnumber)
            for ch in batch:
                memberships = memberships or bool(ch.add)
                count = plural(len(ch.add), "membre", "membres")
                run.trace("change", "cohorts", f"création de la cohorte « {ch.name} » ({ch.idnumber}), {count}")
        done += len(batch)
        run.emit(Progress("cohorts", done, total))
    for batch in _by_operations(cp.changes, cfg.batch_size):
        now = run.now()
        ok, _ = await run.write(
            "cohorts", partial(run.store.change_cohorts, batch, now), len(batch), simulated=lambda: None
        )
        if ok:
            c.updated += len(batch)
            for x in batch:
                run.count_cohort("updated", x.idnumber)
                memberships = memberships or bool(x.add or x.remove)
                run.trace("change", "cohorts", _change_line(x))
        done += len(batch)
        run.emit(Progress("cohorts", done, total))
    for cohort, members in cp.vanished:
        now = run.now()
        ok, _ = await run.write("cohorts", partial(run.store.vanish_cohort, cohort.id, now), 1, simulated=lambda: None)
        if ok:
            c.removed += 1
            run.count_cohort("removed", cohort.idnumber)
            memberships = memberships or bool(members)
            gone = plural(len(members), "membre retiré", "membres retirés")
            run.trace("change", "cohorts", f"cohorte « {cohort.name} » : groupe disparu, {gone}, masquée")
        done += 1
        run.emit(Progress("cohorts", done, total))
    run.emit(Progress("cohorts", total, total))
    return memberships


def _by_operations(changes: Sequence[plan.CohortChange], size: int) -> list[list[plan.CohortChange]]:
    """Batches of about ``size`` row operations (a cohort with many member changes is a batch alone)."""
    out: list[list[plan.CohortChange]] = []
    pending: list[plan.CohortChange] = []
    ops = 0
    for ch in changes:
        pending.append(ch)
        ops += len(ch.add) + len(ch.remove) + 1
        if ops >= size:
            out.append(pending)
            pending, ops = [], 0
    if pending:
        out.append(pending)
    return out
