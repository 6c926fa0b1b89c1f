"""A PUB the service refuses at submit (422): the error says which PUB, what the service said,
and what to change."""

from __future__ import annotations

from qcexec_client.errors import Refused


class PubRefused(Refused, ValueError):
    """The service refused a PUB: too many points, shots or bits for one result, or a circuit
    it cannot take. A ValueError, as Qiskit's primitives raise for PUBs they cannot run."""


def too_large(index: int, refused: Refused) -> PubRefused:
    hint = ""
    if "parameters" in refused.fields or "memory" in refused.fields:
        hint = " (split its parameter values over several PUBs, or ask for fewer shots)"
    return PubRefused(refused.status, f"PUB {index}: {refused.reason}{hint}", refused.body)
