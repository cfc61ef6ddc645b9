"""A recorder of the person reads a job asks the directory for (which attributes), for the tests that
check a job reads only its list of :mod:`enttui.domain.attributes`."""

from __future__ import annotations

from typing import Any

import pytest

from enttui.domain.attributes import PERSON_ATTRIBUTES
from enttui.services.directory import Directory


def record_person_reads(directory: Directory, monkeypatch: pytest.MonkeyPatch, *, widen: bool = False) -> list[tuple]:
    """The attribute lists of the person reads (``objectClass=ENTPerson`` filters) ``directory`` is
    asked for, in order; with ``widen``, each of them reads every person attribute (PERSON_ATTRIBUTES) instead.

    Every read goes through ``iter_pages`` (paged reads, ``iter_people``, ``lookup_people`` by RDN)
    or ``entries_at`` (lookups by DN): both are wrapped on the instance.
    """
    asked: list[tuple] = []
    pages, at = directory.iter_pages, directory.entries_at

    def person_read(filt: str, attributes: Any) -> Any:
        if "(objectclass=entperson)" not in filt.lower():
            return attributes
        asked.append(tuple(attributes))
        return PERSON_ATTRIBUTES if widen else attributes

    def iter_pages(base: str, filt: str, attributes: Any, **kw: Any) -> Any:
        return pages(base, filt, person_read(filt, attributes), **kw)

    async def entries_at(dns: Any, filt: str, attributes: Any) -> Any:
        return await at(dns, filt, person_read(filt, attributes))

    monkeypatch.setattr(directory, "iter_pages", iter_pages)
    monkeypatch.setattr(directory, "entries_at", entries_at)
    return asked
