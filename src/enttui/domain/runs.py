"""Run kinds and statuses: the words the state store records for every run.

The values are the exact strings stored since 0.1.0 (so no data migration is needed); being
``StrEnum`` members, they compare equal to those strings and print as them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FINAL_STATUSES", "RunKind", "RunStatus"]


class RunKind(StrEnum):
    """What a run does (``enttui reports --kind``)."""

    SYNC = "sync"
    DIFFUSION = "diffusion"
    REGENERATION = "regeneration"
    IMPORT = "import"
    EXPORT = "export"
    CHECK = "check"


class RunStatus(StrEnum):
    """Where a run is (``enttui reports --status``); every status but RUNNING is final."""

    RUNNING = "en cours"
    SUCCESS = "réussi"
    WITH_ERRORS = "avec erreurs"
    INTERRUPTED = "interrompu"
    SIMULATED = "simulé"


FINAL_STATUSES: tuple[RunStatus, ...] = tuple(s for s in RunStatus if s is not RunStatus.RUNNING)
