"""What the home screen and ``enttui status`` show for each system."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SystemHealth:
    """One system (directory, Moodle, SMTP, state store): does it answer, how fast, which version."""

    name: str  # "Annuaire (LDAP)", "Moodle", "SMTP", "Base d'état"
    key: str  # "directory", "moodle", "smtp", "state"
    ok: bool
    configured: bool = True
    latency_ms: float | None = None
    version: str = ""
    endpoint: str = ""  # server URL / host without any secret
    message: str = ""  # French: why it is down, or a short remark
    counts: dict[str, int | str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # French remarks (e.g. "auth cas non activée dans Moodle")

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "key": self.key,
            "ok": self.ok,
            "configured": self.configured,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "version": self.version,
            "endpoint": self.endpoint,
            "message": self.message,
            "counts": dict(self.counts),
            "warnings": list(self.warnings),
        }
