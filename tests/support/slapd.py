"""A private OpenLDAP server for tests and benchmarks (no pytest import here).

``Slapd(workdir).start()`` writes a ``slapd.conf`` (recipe of ENV.md: mdb, ppolicy with
``pwdMustChange: TRUE``, ``sizelimit unlimited``, the project's ``ent.schema``), bulk-loads a base
LDIF offline with ``slapadd -q`` (suffix, ``ou=people``, ``ou=groups``, ``ou=structures``,
``ou=policies``, ``ou=services`` with the ``cn=enttui`` service account) plus any extra LDIF, and
runs ``slapd`` in the foreground on a free loopback port. ``stop()`` sends SIGTERM to that PID.

Two accounts: the rootdn (``admin_dn`` / ``admin_password``, bypasses ACLs and limits) and the
service account (``service_dn`` / ``service_password``) with plain ``write`` on ``ou=people`` (so
an administrative password change removes ``pwdReset`` unless the same modify sets it, as on real
ENT directories) and read/write elsewhere.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "apt-get install slapd ldap-utils"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
ENT_SCHEMA = Path(__file__).resolve().parents[2] / "src" / "enttui" / "data" / "ent.schema"

Entry = tuple[str, Mapping[str, Sequence[str] | str]]


class SlapdMissingError(RuntimeError):
    """slapd, slapadd or the OpenLDAP schema files are not installed."""


class SlapdStartError(RuntimeError):
    """slapd did not start (the message carries its log)."""


@dataclass(frozen=True)
class SlapdTls:
    """Server certificate files (e.g. from ``trustme``: ``ca.cert_pem.write_to_path(...)``)."""

    cert_file: str
    key_file: str
    ca_file: str


def find_binary(name: str) -> str:
    """Absolute path of an OpenLDAP binary, or :class:`SlapdMissingError` with the install hint."""
    for candidate in (f"/usr/sbin/{name}", f"/usr/bin/{name}", f"/usr/local/sbin/{name}"):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return found
    raise SlapdMissingError(f"`{name}` introuvable : installez OpenLDAP avec « {INSTALL_HINT} »")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ldif_value(name: str, value: str) -> str:
    raw = value.encode("utf-8")
    safe = (
        raw
        and raw.isascii()
        and raw[:1] not in (b" ", b":", b"<")
        and not raw.endswith(b" ")
        and b"\n" not in raw
        and b"\r" not in raw
        and b"\x00" not in raw
    )
    if safe or value == "":
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(raw).decode('ascii')}"


def entries_to_ldif(entries: Iterable[Entry]) -> str:
    """``[(dn, {attr: [values]})]`` → LDIF text (base64 where needed)."""
    blocks = []
    for dn, attrs in entries:
        lines = [_ldif_value("dn", dn)]
        for name, values in attrs.items():
            if isinstance(values, str):
                values = [values]
            lines.extend(_ldif_value(name, str(v)) for v in values)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def base_entries(suffix: str, service_dn: str, service_password: str) -> list[Entry]:
    """The base tree every test server starts with."""
    first = suffix.split(",", 1)[0]
    rdn_attr, _, rdn_value = first.partition("=")
    if rdn_attr.lower() == "dc":
        root: dict[str, list[str]] = {"objectClass": ["dcObject", "organization"], "dc": [rdn_value], "o": ["ENT"]}
    else:
        root = {"objectClass": ["organization"], "o": [rdn_value]}
    entries: list[Entry] = [(suffix, root)]
    for ou in ("people", "groups", "structures", "policies", "services"):
        entries.append((f"ou={ou},{suffix}", {"objectClass": ["organizationalUnit"], "ou": [ou]}))
    entries.append(
        (
            f"cn=default,ou=policies,{suffix}",
            {
                "objectClass": ["namedPolicy", "pwdPolicy"],
                "cn": ["default"],
                "pwdAttribute": ["userPassword"],
                "pwdMustChange": ["TRUE"],
                "pwdAllowUserChange": ["TRUE"],
            },
        )
    )
    entries.append(
        (
            service_dn,
            {
                "objectClass": ["organizationalRole", "simpleSecurityObject"],
                "cn": [service_dn.split(",", 1)[0].partition("=")[2]],
                "userPassword": [service_password],
                "description": ["Compte de service de la console enttui"],
            },
        )
    )
    return entries


class Slapd:
    """One private slapd (see module docstring)."""

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        suffix: str = "dc=ent,dc=test",
        ldif_paths_or_text: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        tls: SlapdTls | None = None,
        *,
        admin_password: str = "secret",
        service_password: str = "enttui-service-pw",
        schema_file: str | os.PathLike[str] | None = None,
        extra_db_config: str = "",
        maxsize: int = 1 << 30,
    ) -> None:
        self.workdir = Path(workdir)
        self.suffix = suffix
        self.tls = tls
        self.admin_dn = f"cn=admin,{suffix}"
        self.admin_password = admin_password
        self.service_dn = f"cn=enttui,ou=services,{suffix}"
        self.service_password = service_password
        self.schema_file = Path(schema_file) if schema_file else ENT_SCHEMA
        self.extra_db_config = extra_db_config  # slapd.conf lines for the database, before limits/ACLs
        self.maxsize = maxsize  # the mdb map (bytes): 1 GiB holds ~250,000 people with their indexes
        self.port = free_port()
        self.ldaps_port = free_port() if tls else None
        self.people_dn = f"ou=people,{suffix}"
        self.groups_dn = f"ou=groups,{suffix}"
        self.structures_dn = f"ou=structures,{suffix}"
        self._process: subprocess.Popen[bytes] | None = None
        self._loaded = False
        self._pending: list[str | Path] = []
        if ldif_paths_or_text is not None:
            items = (
                [ldif_paths_or_text] if isinstance(ldif_paths_or_text, (str, os.PathLike)) else list(ldif_paths_or_text)
            )
            for item in items:
                self.add_ldif(item)

    # ------------------------------------------------------------------ properties

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str | None:
        return f"ldaps://127.0.0.1:{self.ldaps_port}" if self.ldaps_port else None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "slapd.conf"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    # ------------------------------------------------------------------ offline loading

    def add_ldif(self, ldif: str | os.PathLike[str]) -> None:
        """Queue LDIF (a path or LDIF text) for the offline load; loaded now if the DB exists and slapd is stopped."""
        is_text = isinstance(ldif, str) and ("\n" in ldif or ldif.startswith("dn:"))
        # a file is handed to slapadd as it is (a million people is a 1 GB file: never read here)
        self._pending.append(ldif if is_text else Path(ldif))
        if self._loaded and not self.running:
            self._flush_pending()

    # ------------------------------------------------------------------ lifecycle

    def reuse(self) -> Slapd:
        """Serve the database an earlier run of this folder loaded (the benchmarks' ``--workdir``):
        configure only, no load; ``start()`` then starts slapd on it."""
        self._loaded = True
        self.write_config()
        return self

    def write_config(self) -> Path:
        for name in ("core", "cosine", "inetorgperson", "namedobject"):
            if not (SCHEMA_DIR / f"{name}.schema").is_file():
                raise SlapdMissingError(f"schéma OpenLDAP {name} introuvable : installez « {INSTALL_HINT} »")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "db").mkdir(exist_ok=True)
        schema_copy = self.workdir / "ent.schema"
        shutil.copyfile(self.schema_file, schema_copy)
        d = self.workdir
        svc = self.service_dn
        tls_lines = ""
        if self.tls:
            tls_lines = (
                f"TLSCACertificateFile {self.tls.ca_file}\n"
                f"TLSCertificateFile {self.tls.cert_file}\n"
                f"TLSCertificateKeyFile {self.tls.key_file}\n"
            )
        conf = f"""\
include {SCHEMA_DIR}/core.schema
include {SCHEMA_DIR}/cosine.schema
include {SCHEMA_DIR}/inetorgperson.schema
include {SCHEMA_DIR}/namedobject.schema
include {schema_copy}
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath {MODULE_DIR}
moduleload back_mdb
moduleload ppolicy
sizelimit unlimited
timelimit unlimited
index_substr_any_len 3
{tls_lines}
database mdb
maxsize {self.maxsize}
dbnosync
suffix "{self.suffix}"
rootdn "{self.admin_dn}"
rootpw {self.admin_password}
directory {d}/db
index objectClass eq
index uid,ENTPersonJointure,ENTPersonProfils eq
index cn,sn,givenName,displayName,ENTPersonLogin eq,sub
index ENTEleveClasses,ENTAuxEnsClasses eq,sub,pres
index mail eq,pres
index pwdReset eq
index ENTPersonStructRattach,ENTStructureUAI eq
index modifyTimestamp,createTimestamp eq
{self.extra_db_config}
limits dn.exact="{svc}" size=unlimited time=unlimited
access to attrs=userPassword
    by dn.exact="{svc}" write
    by self write
    by anonymous auth
    by * none
access to dn.subtree="ou=people,{self.suffix}"
    by dn.exact="{svc}" write
    by users read
    by anonymous auth
    by * none
access to *
    by dn.exact="{svc}" write
    by users read
    by anonymous auth
    by * none
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{self.suffix}"
ppolicy_hash_cleartext
"""
        self.conf_path.write_text(conf, encoding="utf-8")
        return self.conf_path

    def _slapadd(self, ldif: str | Path) -> None:
        slapadd = find_binary("slapadd")
        if isinstance(ldif, Path):
            ldif_path, temporary = ldif, False
        else:
            ldif_path, temporary = self.workdir / f"load-{time.monotonic_ns()}.ldif", True
            ldif_path.write_text(ldif, encoding="utf-8")
        try:
            proc = subprocess.run(
                [slapadd, "-q", "-f", str(self.conf_path), "-l", str(ldif_path)],
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            if temporary:
                ldif_path.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise SlapdStartError(f"slapadd a échoué ({proc.returncode}) :\n{proc.stderr[-4000:]}")

    def _flush_pending(self) -> None:
        while self._pending:
            self._slapadd(self._pending.pop(0))

    def start(self, timeout: float = 15.0) -> Slapd:
        """Configure, load (first time only) and start slapd; returns when it answers."""
        if self.running:
            return self
        slapd = find_binary("slapd")
        if not self._loaded:
            find_binary("slapadd")
            self.write_config()
            self._slapadd(entries_to_ldif(base_entries(self.suffix, self.service_dn, self.service_password)))
            self._loaded = True
        self._flush_pending()
        urls = self.url + (f" {self.ldaps_url}" if self.ldaps_url else "")
        log = (self.workdir / "slapd.log").open("ab")
        try:
            self._process = subprocess.Popen(
                [slapd, "-f", str(self.conf_path), "-h", urls, "-d", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        ports = [self.port] + ([self.ldaps_port] if self.ldaps_port else [])
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if all(_answers(p) for p in ports):
                return self
            time.sleep(0.02)
        self.stop()
        tail = (self.workdir / "slapd.log").read_text(encoding="utf-8", errors="replace")[-4000:]
        raise SlapdStartError(f"slapd n'a pas démarré sur le port {self.port} :\n{tail}")

    def ldap_config(
        self, *, admin: bool = False, base_dn: str | None = None, urls: list[str] | None = None, **overrides
    ):
        """The console's ``[ldap]`` settings for this server (service account unless ``admin``);
        ``overrides`` replace any other key (``timeout=120.0``, ``page_size=…``)."""
        from dataclasses import replace

        from enttui.config import LdapConfig, Secret

        base = base_dn or self.suffix
        cfg = LdapConfig(
            urls=urls or [self.url],
            bind_dn=self.admin_dn if admin else self.service_dn,
            bind_password=Secret(self.admin_password if admin else self.service_password),
            base_dn=base,
            people_dn=f"ou=people,{base}",
            groups_dn=f"ou=groups,{base}",
            structures_dn=f"ou=structures,{base}",
        )
        return replace(cfg, **overrides) if overrides else cfg

    def ldapsearch_read(
        self, base: str, filt: str, attributes: Sequence[str], *, page_size: int = 500, admin: bool = True
    ) -> tuple[int, float]:
        """The floor of a paged read: OpenLDAP's own ``ldapsearch`` (C, ``-E pr=N/noprompt``) reads
        ``base`` with ``filt`` and ``attributes``; returns (entries, seconds). The LDIF it prints is
        only counted (``dn:`` lines), never parsed or kept."""
        ldapsearch = find_binary("ldapsearch")
        pw_file = self.workdir / f"pw-search-{os.getpid()}"
        pw_file.write_text(self.admin_password if admin else self.service_password, encoding="utf-8")
        pw_file.chmod(0o600)
        cmd = [ldapsearch, "-x", "-LLL", "-o", "ldif-wrap=no", "-H", self.url]
        cmd += ["-D", self.admin_dn if admin else self.service_dn, "-y", str(pw_file)]
        cmd += ["-b", base, "-E", f"pr={page_size}/noprompt", filt, *attributes]
        start = time.perf_counter()
        count, tail = 0, b"\n"
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            while chunk := proc.stdout.read(1 << 20):
                data = tail + chunk
                count += data.count(b"\ndn:")
                tail = data[-3:]
            err = proc.stderr.read() if proc.stderr else b""
        elapsed = time.perf_counter() - start
        pw_file.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise RuntimeError(f"ldapsearch a échoué ({proc.returncode}) : {err.decode(errors='replace')[-2000:]}")
        return count, elapsed

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to our own slapd (by PID), wait; SIGKILL if it hangs."""
        proc = self._process
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._process = None

    def __enter__(self) -> Slapd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Slapd({self.url}, suffix={self.suffix!r}, running={self.running})"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
