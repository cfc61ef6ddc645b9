#!/usr/bin/env python3
"""Capture the directory schema of the test slapd for the embedded (demo) directory.

Starts a private slapd loaded with ``src/enttui/data/ent.schema`` (tests/support/slapd.py), reads
its subschema and root DSE with ldap3 (``get_info=ALL``) and writes them as JSON into
``src/enttui/demo/data/ldap_schema.json`` and ``ldap_info.json``, which
``Directory.embedded(...)`` loads with ``Server.from_definition``. Without this schema, ldap3's
in-memory directory silently refuses entries of the ENT classes.

Run it again after every change of ent.schema:  .venv/bin/python scripts/capture_ldap_schema.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import ldap3  # noqa: E402

from support.slapd import Slapd  # noqa: E402

DATA = ROOT / "src" / "enttui" / "demo" / "data"
SUFFIX = "dc=ent,dc=demo"  # the suffix of the demo world (config.demo_config)


def _normalise(path: Path) -> None:
    """Stable output: drop the server's volatile root DSE values (ports, timestamps)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    raw = data.get("raw", {})
    for key in list(raw):
        if key.lower() in {"currenttime", "entrycsn", "modifytimestamp", "createtimestamp", "contextcsn"}:
            del raw[key]
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="enttui-schema-") as tmp, Slapd(tmp, suffix=SUFFIX) as server:
        srv = ldap3.Server(server.url, get_info=ldap3.ALL)
        conn = ldap3.Connection(srv, server.admin_dn, server.admin_password, auto_bind=True)
        try:
            if srv.schema is None or srv.info is None:
                print("schema or root DSE not read", file=sys.stderr)
                return 1
            missing = [
                c
                for c in ("ENTPerson", "ENTEleve", "ENTEtablissement", "ENTClasse")
                if c not in srv.schema.object_classes
            ]
            if missing:
                print(f"classes missing from the server schema: {missing}", file=sys.stderr)
                return 1
            schema_path = DATA / "ldap_schema.json"
            info_path = DATA / "ldap_info.json"
            srv.schema.to_file(str(schema_path))
            srv.info.to_file(str(info_path))
            _normalise(schema_path)
            _normalise(info_path)
        finally:
            conn.unbind()
    print(f"wrote {schema_path.relative_to(ROOT)} and {info_path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
