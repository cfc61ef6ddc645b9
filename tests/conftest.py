"""Test configuration: fixture plugins live in tests/support/fixtures_*.py.

The real systems (slapd, MariaDB, PostgreSQL, aiosmtpd) are started once per session on free
loopback ports; a missing server binary fails the run with an install hint.
"""

from pathlib import Path

pytest_plugins = sorted(f"support.{p.stem}" for p in (Path(__file__).parent / "support").glob("fixtures_*.py"))
