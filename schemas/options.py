"""What a submission asks of the simulator beside its program: the language it was read as, the
outputs, Aer's method and the noise. Part of the contract (``schemas.events`` re-exports every
name), kept apart so that the records' module stays about the records."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Dialect(StrEnum):
    """The language a program was read as (the program front end detects it)."""

    OPENQASM2 = "openqasm2"
    OPENQASM3 = "openqasm3"
    #: OpenQASM 3 as Amazon Braket writes it: Braket's built-in gates, physical qubits.
    BRAKET = "braket"


class Method(StrEnum):
    """How Aer simulates a circuit (``AerSimulator(method=...)``); each has its own qubit limit."""

    AUTOMATIC = "automatic"
    STATEVECTOR = "statevector"
    DENSITY_MATRIX = "density_matrix"
    MATRIX_PRODUCT_STATE = "matrix_product_state"
    STABILIZER = "stabilizer"
    EXTENDED_STABILIZER = "extended_stabilizer"


class Output(StrEnum):
    """What a task answers for each point, beside expectation values."""

    #: Sampled counts of the measured bits (the default).
    COUNTS = "counts"
    #: Exact probabilities of the measured bits' outcomes, keyed like counts.
    PROBABILITIES = "probabilities"
    #: The exact state before the final measurements, as ``[re, im]`` pairs.
    STATEVECTOR = "statevector"


class Depolarizing(BaseModel):
    """Depolarizing errors after every gate, by the number of qubits it acts on."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    one_qubit: float = Field(default=0.0, ge=0, le=1, description="After each 1-qubit gate.")
    two_qubit: float = Field(default=0.0, ge=0, le=1, description="After each 2-qubit gate.")


class Noise(BaseModel):
    """A noise model: given by its parts, or the calibrated noise of a device snapshot."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    depolarizing: Depolarizing | None = Field(
        default=None, description="Depolarizing error after every gate."
    )
    readout: float | None = Field(
        default=None, ge=0, le=1, description="Probability that a measured bit is read flipped."
    )
    device: str | None = Field(
        default=None,
        description="A device snapshot of qiskit-ibm-runtime's fake provider (``fake_sherbrooke``"
        "): its noise, coupling map and gates (the circuit is transpiled for it).",
        examples=["fake_sherbrooke"],
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        parts = self.depolarizing is not None or self.readout is not None
        if self.device is not None and parts:
            raise ValueError("give either a device or a model's parts, not both")
        if self.device is None and not parts:
            raise ValueError("give a device, or depolarizing and/or readout errors")
        return self
