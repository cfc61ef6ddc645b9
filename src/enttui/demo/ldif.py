"""LDIF (RFC 2849) for the generated worlds: content records, and the copies slapd accepts over LDAP.

``scripts/gen_ldif.py``, the benchmarks and the tests load generated directories with ``slapadd`` or
an LDAP add; both start from these lines.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from typing import TextIO

from enttui.demo.world_spec import Entry

# SAFE-STRING: no NUL/LF/CR, ASCII only, not starting with space, colon or "<"; and no trailing space.
_SAFE = re.compile(r"(?:[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b\x0c\x0e-\x7f]*)?(?<! )")


def ldif_line(name: str, value: str) -> str:
    """``name: value``, or ``name:: base64`` when the value is not a safe string."""
    if _SAFE.fullmatch(value):
        return f"{name}: {value}\n"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}\n"


def write_ldif(entries: Iterable[Entry], out: TextIO) -> int:
    """Write entries as LDIF content records (no line folding); return how many were written."""
    count = 0
    safe = _SAFE.fullmatch
    b64 = base64.b64encode
    for dn, attrs in entries:
        lines = [ldif_line("dn", dn)]
        for name, values in attrs.items():
            for v in values:
                if safe(v):
                    lines.append(f"{name}: {v}\n")
                else:
                    lines.append(f"{name}:: {b64(v.encode('utf-8')).decode('ascii')}\n")
        lines.append("\n")
        out.write("".join(lines))
        count += 1
    return count


OPERATIONAL_ATTRIBUTES: tuple[str, ...] = ("createTimestamp", "modifyTimestamp")


def strip_operational(entries: Iterable[Entry]) -> Iterator[Entry]:
    """Copies of ``entries`` without ``createTimestamp``/``modifyTimestamp``, for loading over LDAP.

    slapd refuses those two on an add (NO-USER-MODIFICATION) and sets them itself; ``slapadd`` and
    the embedded MOCK_SYNC directory take them as generated (``pwdReset`` is accepted everywhere).
    """
    for dn, attrs in entries:
        yield dn, {k: v for k, v in attrs.items() if k not in OPERATIONAL_ATTRIBUTES}
