"""The "Associations de rôles" phase: role groups (and ``ENTPersonFonctions``) → role assignments.

A role group names a role, a context level and a context key (SYNC.md); its members get the role in
that context. Assignments the sync creates carry the lock component; only those are ever removed.
The users whose assignments change are marked dirty (in the same transaction) so that a logged-in
user sees the change at once. Trace lines name the login, the role and the context.
"""

from __future__ import annotations

from functools import partial

from enttui.domain import ldapfilter as lf
from enttui.domain import role_plan as plan
from enttui.domain.dn import lookup_key
from enttui.jobs.events import Progress
from enttui.jobs.sync_read import read_entries, read_group_entries, resolve_members, since_filter
from enttui.jobs.sync_run import SyncRun
from enttui.jobs.sync_settings import role_base
from enttui.services.moodle_sync import chunks


def rules_of(run: SyncRun) -> plan.RoleRules:
    cfg = run.cfg
    return plan.RoleRules(
        role_attribute=cfg.role_attribute,
        role_regex=cfg.role_regex,
        role_mapping=plan.parse_mapping(cfg.role_mapping),
        level_attribute=cfg.role_level_attribute,
        level_regex=cfg.role_level_regex,
        level_mapping=plan.parse_mapping(cfg.role_level_mapping),
        key_attribute=cfg.role_key_attribute,
        key_regex=cfg.role_key_regex,
    )


def _context_label(level: str, key: str) -> str:
    return {"system": "système", "coursecat": f"catégorie {key}", "course": f"cours {key}"}.get(level, level)


async def sync_roles(run: SyncRun) -> None:
    opts, cfg = run.opts, run.cfg
    run.begin("roles", "Associations de rôles : lecture des groupes de rôles")
    single = bool(opts.user_login)
    base = role_base(run.config)
    attrs = sorted(
        {"cn", "member", "objectClass", cfg.role_attribute, cfg.role_level_attribute, cfg.role_key_attribute}
    )
    if single:
        filt = lf.and_(cfg.role_filter, lf.eq("member", run.people[0].dn))
        entries = await read_entries(run, "roles", base, filt, attrs, "roles")
    else:
        since = await since_filter(run, ["roles"])
        entries = await read_group_entries(
            run, key="roles", entity="roles", base=base, filt=cfg.role_filter, attrs=attrs, since=since
        )
    rules = rules_of(run)
    specs: list[plan.RoleSpec] = []
    for dn, a in entries:
        spec = plan.role_spec(dn, a, rules)
        if isinstance(spec, str):
            run.error("roles", spec, dn)
        else:
            specs.append(spec)
    role_ids = await run.store.role_ids()
    contexts = await run.store.contexts_by_idnumber(
        {s.key for s in specs if s.level == "coursecat"}, {s.key for s in specs if s.level == "course"}
    )
    # Only the members of the groups that will be applied are resolved: a group whose role or
    # context is missing is an error line and skipped whatever its members (a region's retry list
    # can hold thousands of them; resolving their members read the whole périmètre each run).
    members = await resolve_members(
        run,
        [
            m
            for s in specs
            if s.role in role_ids and (s.level == "system" or (s.level, s.key) in contexts)
            for m in s.members
        ],
        "roles",
    )
    desired: set[plan.Assignment] = set()
    pairs: set[tuple[int, int]] = set()
    labels: dict[int, str] = {run.facts.system_context: _context_label("system", "")}
    c = run.counts["roles"]
    me = lookup_key(run.people[0].dn) if single else None
    complete = members.complete
    for s in specs:
        rid = role_ids.get(s.role)
        if rid is None:
            run.error("roles", f"{s.source} : rôle « {s.role} » introuvable dans Moodle ; groupe ignoré", s.source)
            continue
        cid = run.facts.system_context if s.level == "system" else contexts.get((s.level, s.key))
        if cid is None:
            run.error(
                "roles",
                f"{s.source} : contexte {_context_label(s.level, s.key)} introuvable dans Moodle ; groupe ignoré",
                s.source,
            )
            continue
        labels[cid] = _context_label(s.level, s.key)
        pairs.add((rid, cid))
        for m in s.members:
            why = members.bad.get(m)
            if why is not None:
                complete = False
                if not single:
                    run.error("roles", f"{s.source} : membre « {m} » {why} ; ignoré", s.source)
                continue
            p = members.get(m)
            if p is None or (me is not None and lookup_key(p.dn) != me):
                continue
            uid = run.user_id(p)
            if uid is None:
                if opts.update_only:
                    c.skipped += 1
                continue
            desired.add((rid, cid, uid))
        run.detail("roles", f"{s.source} : rôle {s.role}, contexte {_context_label(s.level, s.key)}")
    # ENTPersonFonctions → system roles, for the people read in this run
    fonction_pairs: set[tuple[int, int]] = set()
    scoped_users: set[int] = set()
    fonction_roles = plan.parse_mapping(cfg.fonction_roles)
    for code, shortname in sorted(fonction_roles.items()):
        rid = role_ids.get(shortname)
        if rid is None:
            run.error("roles", f"fonction {code} : rôle « {shortname} » introuvable dans Moodle")
            continue
        fonction_pairs.add((rid, run.facts.system_context))
        for p in run.people:
            uid = run.user_id(p)
            if uid is None:
                continue
            scoped_users.add(uid)
            if code in plan.fonction_codes(p.fonctions):
                desired.add((rid, run.facts.system_context, uid))
    full = opts.force and run.people_full and "roles" not in run.incomplete and members.complete and not single
    existing = await run.store.role_assignments(
        {cid for _r, cid in pairs | fonction_pairs}, owned_component=cfg.component if full else None
    )

    def in_scope(key: plan.Assignment) -> bool:
        if full:
            return True
        return (key[0], key[1]) in pairs or ((key[0], key[1]) in fonction_pairs and key[2] in scoped_users)

    rp = plan.plan_roles(
        desired,
        existing,
        component=cfg.component,
        in_scope=in_scope,
        update_only=opts.update_only,
        allow_remove=complete and not single and "roles" not in run.incomplete,
    )
    c.unchanged += rp.unchanged
    c.skipped += rp.skipped
    await _write(run, rp, {v: k for k, v in role_ids.items()}, labels)
    run.end("roles")


async def _write(run: SyncRun, rp: plan.RolePlan, names: dict[int, str], labels: dict[int, str]) -> None:
    cfg, c = run.cfg, run.counts["roles"]
    logins = {v: k for k, v in run.owned_by_name.items()}
    missing = {u for _r, _c, u in rp.add} | {k[2] for _i, k in rp.remove}
    logins.update(await run.store.usernames_of(u for u in missing if u not in logins and u > 0))

    def who(uid: int) -> str:
        return logins.get(uid, f"l'utilisateur n° {uid}")

    def where(cid: int) -> str:
        return labels.get(cid, f"contexte n° {cid}")

    rp.add.sort(key=lambda k: (k[0], k[1], who(k[2])))
    total = len(rp.add) + len(rp.remove)
    done = 0
    for batch in chunks(rp.add, cfg.batch_size):
        now = run.now()
        ok, _ = await run.write(
            "roles",
            partial(run.store.add_role_assignments, batch, component=cfg.component, facts=run.facts, now=now),
            len(batch),
            simulated=lambda: None,
        )
        if ok:
            c.created += len(batch)
            for r, cx, u in batch:
                run.trace("change", "roles", f"attribution du rôle {names.get(r, r)} à {who(u)} ({where(cx)})")
        done += len(batch)
        run.emit(Progress("roles", done, total))
    for batch in chunks(rp.remove, cfg.batch_size):
        now = run.now()
        ok, _ = await run.write(
            "roles",
            partial(run.store.remove_role_assignments, batch, component=cfg.component, facts=run.facts, now=now),
            len(batch),
            simulated=lambda: None,
        )
        if ok:
            c.removed += len(batch)
            for _id, (r, cx, u) in batch:
                run.trace("change", "roles", f"retrait du rôle {names.get(r, r)} à {who(u)} ({where(cx)})")
        done += len(batch)
        run.emit(Progress("roles", done, total))
    run.emit(Progress("roles", total, total))
