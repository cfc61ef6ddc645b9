"""A console on a périmètre of several schools: the embedded directory loaded with small generated
schools (one of them named with markup characters), frozen clock, no Moodle.

For the Annuaire's "Établissement" filter (F9) at 80×24: the demo world holds one school only.
"""

from __future__ import annotations

from pathlib import Path

from enttui.config import Config, EntConfig, LdapConfig, StateConfig
from enttui.demo.world import SchoolSpec, WorldSpec, generate
from support.fixtures_ui import FakeTimer, frozen_clock

BASE_DN = "dc=ent,dc=multi"
SCHOOLS = (
    SchoolSpec("0123456A", "Collège Jean Moulin", students=24, teachers=3, staff=1, others=1, classes_per_level=1),
    SchoolSpec("0654321B", "Lycée [Beta] *", students=16, teachers=2, staff=1, others=1, classes_per_level=1),
    SchoolSpec("0777777C", "Collège Éloïse Gamma", students=8, teachers=1, staff=1, others=1, classes_per_level=1),
)


def perimetre_spec() -> WorldSpec:
    return WorldSpec(base_dn=BASE_DN, schools=SCHOOLS, role_groups=False)


def perimetre_config(root: Path, uais: tuple[str, ...] = tuple(s.uai for s in SCHOOLS)) -> Config:
    return Config(
        path="<test>",
        ent=EntConfig(portal="Portail GRIS", portal_url="https://ent.test", uai=list(uais)),
        ldap=LdapConfig(
            urls=["mock://multi"],
            base_dn=BASE_DN,
            people_dn=f"ou=people,{BASE_DN}",
            groups_dn=f"ou=groups,{BASE_DN}",
            structures_dn=f"ou=structures,{BASE_DN}",
        ),
        state=StateConfig(url=f"sqlite:///{root / 'state.db'}", files_dir=str(root / "identifiants")),
    )


def make_perimetre_app(root: Path, uais: tuple[str, ...] = tuple(s.uai for s in SCHOOLS), **kwargs):
    """The console on the schools above (a directory and a state store; Moodle not configured);
    ``uais``: the périmètre (``[ent] uai``), all three schools by default."""
    from enttui.services.container import Services, private_dir
    from enttui.services.directory import Directory
    from enttui.services.state import StateStore
    from enttui.ui.app import EntApp

    root = private_dir(root)
    config = perimetre_config(root, uais)

    async def opener() -> Services:
        directory = Directory.embedded(config.ldap, config.ent, generate(perimetre_spec()), trusted=True)
        await directory.open()
        state = StateStore(config.state, clock=frozen_clock)
        await state.open()
        return Services(config=config, directory=directory, state=state, clock=frozen_clock)

    kwargs.setdefault("config", config)
    return EntApp(opener=opener, timer=FakeTimer(), **kwargs)
