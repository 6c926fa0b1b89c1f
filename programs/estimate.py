"""What a task would need before it runs, for the dry run (``POST /tasks/estimate``): the
method Aer would choose, the memory each method's state takes as Aer counts it, and a run time
from a model calibrated on the machine (``make bench`` fits it; see docs/api.md).

The memory is the simulator's state, as Aer itself reports it (``required_memory_mb`` in a
result's metadata): 16 bytes an amplitude, 2^n amplitudes for a statevector and 4^n for a
density matrix; a stabilizer tableau of n qubits is a few n^2 bits. A matrix product state
and the extended stabilizer take what the circuit's entanglement or its T gates make them take:
not known before they run (None). The run time is ``overhead_s + seconds_per_unit x units``,
units being the scheduler's measure of work (:func:`programs.weight.task_work`, in Bell
circuits), one pair of coefficients per family of methods.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from programs.weight import units
from schemas.events import Method

#: Bytes of one amplitude (a complex of two doubles), as Aer counts a state's memory.
AMPLITUDE_BYTES = 16


def state_bytes(method: Method, qubits: int) -> int | None:
    """The memory of the simulator's state for ``method`` (None where the circuit decides)."""
    if method in (Method.AUTOMATIC, Method.STATEVECTOR):
        return AMPLITUDE_BYTES * 2**qubits
    if method is Method.DENSITY_MATRIX:
        return AMPLITUDE_BYTES * 4**qubits
    if method is Method.STABILIZER:
        return (2 * qubits) * (2 * qubits + 1) // 8 + 1
    return None


def automatic_choice(
    qubits: int, shots: int, noisy: bool, clifford: bool, max_memory_mb: int
) -> Method:
    """The method Aer's automatic choice lands on: with noise, a density matrix when there are
    more shots than basis states and it fits in memory (one run of the mixed state beats a
    trajectory per shot); a stabilizer for a Clifford circuit; a statevector otherwise."""
    density = state_bytes(Method.DENSITY_MATRIX, qubits)
    fits = density is not None and density <= max_memory_mb * 1024 * 1024
    if noisy and shots > 2**qubits and fits:
        return Method.DENSITY_MATRIX
    if clifford:
        return Method.STABILIZER
    return Method.STATEVECTOR


class Coefficients(BaseModel):
    overhead_s: float = Field(ge=0, description="Seconds a run takes whatever its size.")
    seconds_per_unit: float = Field(ge=0, description="Seconds per unit of work (a Bell run).")


class Calibration(BaseModel):
    """The run-time model's coefficients for each family of methods, fitted on a machine."""

    machine: str = Field(default="", description="Where the coefficients were fitted.")
    statevector: Coefficients
    density_matrix: Coefficients
    stabilizer: Coefficients

    def family(self, method: Method) -> Coefficients:
        if method is Method.DENSITY_MATRIX:
            return self.density_matrix
        if method in (Method.STABILIZER, Method.EXTENDED_STABILIZER):
            return self.stabilizer
        return self.statevector

    def seconds(self, method: Method, work: int) -> float:
        """The run's estimated seconds for ``work`` amplitude-operations on ``method``."""
        coefficients = self.family(method)
        return coefficients.overhead_s + coefficients.seconds_per_unit * units(work)


#: Fitted by ``make bench`` (its ``estimate`` phase) on the development machine (2 cores);
#: another machine's fit is loaded from the file ``API_ESTIMATE_CALIBRATION`` names.
DEFAULT = Calibration(
    machine="development machine, 2 cores (make bench)",
    statevector=Coefficients(overhead_s=0.00205, seconds_per_unit=1.27e-08),
    density_matrix=Coefficients(overhead_s=0.0144, seconds_per_unit=7.30e-08),
    stabilizer=Coefficients(overhead_s=0.00091, seconds_per_unit=1.43e-06),
)


def calibration(path: Path | None) -> Calibration:
    """The coefficients in ``path`` (written by ``make bench``), or the defaults."""
    if path is None:
        return DEFAULT
    return Calibration.model_validate_json(path.read_bytes())
