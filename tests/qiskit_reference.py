"""What the tests of the Qiskit primitives share: Aer's own primitives, run in-process as the
reference, and comparisons that hold within sampling noise (exactly where the outcome is
certain)."""

from __future__ import annotations

import numpy as np
from qiskit.primitives import BitArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2 as AerEstimator
from qiskit_aer.primitives import SamplerV2 as AerSampler

SEED = 123


def aer_sampler(shots: int) -> AerSampler:
    return AerSampler(default_shots=shots, seed=SEED)


def aer_estimator(precision: float = 0.0) -> AerEstimator:
    return AerEstimator(
        options={"default_precision": precision, "run_options": {"seed_simulator": SEED}}
    )


_PASSES = generate_preset_pass_manager(optimization_level=0, backend=AerSimulator())


def for_aer_sampler(pubs: list) -> list[SamplerPub]:
    """The PUBs with their circuits in Aer's instruction set, as Aer's primitives need them
    (ours take the circuits as they are)."""
    coerced = [SamplerPub.coerce(pub) for pub in pubs]
    return [SamplerPub(_PASSES.run(p.circuit), p.parameter_values, p.shots) for p in coerced]


def for_aer_estimator(pubs: list) -> list[EstimatorPub]:
    coerced = [EstimatorPub.coerce(pub) for pub in pubs]
    return [
        EstimatorPub(_PASSES.run(p.circuit), p.observables, p.parameter_values, p.precision)
        for p in coerced
    ]


def assert_same_distribution(ours: BitArray, theirs: BitArray, sigmas: float = 6.0) -> None:
    """Same shape, shots and width; at every index, each outcome's frequency within
    ``sigmas`` standard deviations of the difference of two samples; identical counts where
    the reference has a single outcome."""
    assert ours.shape == theirs.shape
    assert ours.num_shots == theirs.num_shots and ours.num_bits == theirs.num_bits
    shots = ours.num_shots
    for index in np.ndindex(ours.shape):
        mine, ref = ours.get_int_counts(index), theirs.get_int_counts(index)
        assert sum(mine.values()) == shots
        if len(ref) == 1:
            assert mine == ref, (index, mine, ref)
            continue
        for outcome in set(mine) | set(ref):
            p, q = mine.get(outcome, 0) / shots, ref.get(outcome, 0) / shots
            spread = np.sqrt(2 * max(p * (1 - p), q * (1 - q), 1 / shots) / shots)
            assert abs(p - q) <= sigmas * spread, (index, outcome, mine, ref)


def assert_same_registers(ours, theirs) -> None:
    """Both pub results' data hold the same registers, each the same distribution."""
    assert sorted(ours.data.keys()) == sorted(theirs.data.keys())
    for name in theirs.data.keys():
        assert_same_distribution(getattr(ours.data, name), getattr(theirs.data, name))
