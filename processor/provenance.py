"""What made a result (:class:`schemas.events.Provenance`): the versions of the service, Qiskit
and Aer, the seed, a digest of the noise asked, and, from the run, the method Aer chose and
the device snapshot's calibration date. The worker that ran a task says it; the processor says
what it knows for a task that did not run."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from schemas.events import Provenance, TaskSubmitted


@cache
def _versions() -> tuple[str, str, str]:
    def of(distribution: str) -> str:
        try:
            return version(distribution)
        except PackageNotFoundError:
            return "unknown"

    return of("qcexec"), of("qiskit"), of("qiskit-aer")


def noise_digest(noise_json: str | None) -> str | None:
    return hashlib.sha256(noise_json.encode()).hexdigest() if noise_json else None


def provenance(
    task: TaskSubmitted, method: str | None = None, calibrated_at: str | None = None
) -> Provenance:
    """The task's provenance; ``method`` and ``calibrated_at`` as the run reported them."""
    service, qiskit, aer = _versions()
    noise = task.noise
    return Provenance(
        service=service,
        qiskit=qiskit,
        qiskit_aer=aer,
        method=method,
        seed=task.seed,
        noise_digest=noise_digest(noise.model_dump_json() if noise is not None else None),
        device=noise.device if noise is not None else None,
        calibrated_at=calibrated_at,
    )
