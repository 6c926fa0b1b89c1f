"""``qcexec_client.qiskit.Estimator`` on the real stack against
``qiskit_aer.primitives.EstimatorV2`` in-process, on the cases of Qiskit's EstimatorV2 tests
(real_amplitudes with Hamiltonians, several observables and parameter sets, broadcasting,
endianness, invalid PUBs, precision and standard errors): equal where both are exact, within
sampling noise otherwise. Then a VQE for H2 whose every energy goes through the service."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from qcexec_client.qiskit import Estimator, PubRefused
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp
from scipy.optimize import minimize

from tests.qiskit_reference import SEED, aer_estimator, for_aer_estimator
from tests.stack import Stack, read_topic

H2 = SparsePauliOp.from_list(
    [
        ("II", -1.052373245772859),
        ("IZ", 0.39793742484318045),
        ("ZI", -0.39793742484318045),
        ("ZZ", -0.01128010425623538),
        ("XX", 0.18093119978423156),
    ]
)
H1 = SparsePauliOp.from_list([("II", 1), ("IZ", 2), ("XI", 3)])
H2_TERM = SparsePauliOp("IZ")
H3 = SparsePauliOp.from_list([("ZI", 1), ("ZZ", 1)])
THETA1, THETA2, THETA3 = [0, 1, 1, 2, 3, 5], [0, 1, 1, 2, 3, 5, 8, 13], [1, 2, 3, 4, 5, 6]
PSI1, PSI2 = real_amplitudes(2, reps=2), real_amplitudes(2, reps=3)


@pytest.fixture(scope="module")
def estimator(stack: Stack) -> Iterator[Estimator]:
    made = Estimator(stack.url, seed=SEED)
    yield made
    made.client.close()


def exact(estimator: Estimator, pubs: list) -> list:
    """Runs the PUBs exactly on both; asserts equal values, shapes and zero errors."""
    ours = estimator.run(pubs).result()
    theirs = aer_estimator().run(for_aer_estimator(pubs)).result()
    for mine, ref in zip(ours, theirs, strict=True):
        assert mine.data.evs.shape == ref.data.evs.shape
        np.testing.assert_allclose(mine.data.evs, ref.data.evs, atol=1e-9)
        assert np.all(mine.data.stds == 0)
    return list(ours)


def test_hamiltonians_on_real_amplitudes(estimator: Estimator) -> None:
    (bound,) = exact(estimator, [(PSI1.assign_parameters(THETA1), H2)])
    np.testing.assert_allclose(bound.data.evs, -1.284366511861733, rtol=1e-9)
    results = exact(
        estimator,
        [
            (PSI1, H1, [THETA1]),
            (PSI2, H1, THETA2),
            (PSI1, [H2_TERM, H3], THETA1),
            (PSI1, [H1, H3], [THETA1, THETA3]),
            (PSI2, H2_TERM, THETA2),
        ],
    )
    expected = [[1.5555572817900956], 2.97797666, [-0.551653, 0.07535239]]
    expected += [[1.55555728, -1.08766318], [0.17849238]]
    for result, values in zip(results, expected, strict=True):
        np.testing.assert_allclose(result.data.evs, values, rtol=1e-6)


def test_every_form_of_parameter_values(estimator: Estimator) -> None:
    flipped = QuantumCircuit(1)
    flipped.x(0)
    empty = [None, [], [[]], np.array([]), np.array([[]]), [np.array([])]]
    exact(estimator, [(flipped, SparsePauliOp("Z"), values) for values in empty])
    x = Parameter("x")
    rotated = QuantumCircuit(1)
    rotated.ry(x, 0)
    exact(estimator, [(rotated, "Z", [np.pi]), (rotated, "Z", np.array([np.pi]))])
    forms = [THETA1, [THETA1], np.array(THETA1), np.array([THETA1]), [np.array(THETA1)]]
    exact(estimator, [(PSI1, H1, values) for values in forms])


def test_endianness_of_one_and_two_qubits(estimator: Estimator) -> None:
    circuits = [QuantumCircuit(1), QuantumCircuit(1), QuantumCircuit(2), QuantumCircuit(2)]
    circuits[1].x(0)
    circuits[3].x(0)
    pubs = [(c, ["I", "Z"]) for c in circuits[:2]] + [(c, ["II", "ZI", "IZ"]) for c in circuits[2:]]
    results = exact(estimator, pubs)
    assert [list(r.data.evs) for r in results] == [[1, 1], [1, -1], [1, 1, 1], [1, 1, -1]]


def test_parameter_arrays_and_observables_broadcast(estimator: Estimator) -> None:
    rng = np.random.default_rng(SEED)
    ansatz = real_amplitudes(2, reps=1)
    values = rng.random((3, 2, ansatz.num_parameters))
    (grid,) = exact(estimator, [(ansatz, [SparsePauliOp("IX"), SparsePauliOp("YI")], values)])
    assert grid.data.evs.shape == (3, 2)
    column = np.array([["ZZ"], ["XI"]])  # shape (2, 1) against parameters (5,)
    five = rng.random((5, ansatz.num_parameters))
    (outer,) = exact(estimator, [(ansatz, column, five), (ansatz, [[H1, H3]], list(five[:2]))])[:1]
    assert outer.data.evs.shape == (2, 5)


def test_invalid_pubs_raise_value_error_like_aer(estimator: Estimator) -> None:
    one, two = QuantumCircuit(1), QuantumCircuit(2)
    op, op2 = SparsePauliOp("I"), SparsePauliOp("II")
    invalid = [
        ([(one, op2)], {}),
        ([(one, op, [[1e4]])], {}),
        ([(two, op2, [[1, 2]])], {}),
        ([(one, [op, op2], [[1]])], {}),
        ([(one, op)], {"precision": -1}),
        ([(one, 1j * op)], {"precision": 0.1}),
        ([(one, op, None, -1)], {}),
        ((one, op), {}),
    ]
    for pubs, run in invalid:
        with pytest.raises(ValueError):
            aer_estimator().run(pubs, **run).result()
        with pytest.raises(ValueError):
            estimator.run(pubs, **run).result()


def test_precision_becomes_shots_and_stds_are_within_it(estimator: Estimator) -> None:
    precision = 5e-3
    twice = SparsePauliOp.from_list([("ZZ", 1), ("ZZ", 1)])
    pubs = [(PSI1, [H1, SparsePauliOp("ZZ"), twice], THETA1)]
    (ours,) = estimator.run(pubs, precision=precision).result()
    (theirs,) = aer_estimator(precision).run(for_aer_estimator(pubs)).result()
    (truth,) = aer_estimator().run(for_aer_estimator(pubs)).result()
    assert ours.metadata["target_precision"] == precision and ours.metadata["shots"] == 40_000
    for sampled in (ours, theirs):
        deviation = np.abs(sampled.data.evs - truth.data.evs)
        assert np.all(deviation <= 6 * precision * np.array([6, 1, 2]))
    assert np.all(ours.data.stds > 0)
    assert np.all(ours.data.stds <= precision * np.array([6, 1, 2]))
    (tighter,) = estimator.run([(*pubs[0], precision * 0.8)]).result()
    assert tighter.metadata["shots"] == 62_500
    assert np.all(tighter.data.stds < ours.data.stds)
    with pytest.raises(PubRefused, match=r"PUB 0: body\.shots: shots must be at most"):
        estimator.run([(*pubs[0], precision / 2)])  # 160 000 shots


def vqe(estimator, runs: list[int]) -> tuple[float, np.ndarray]:
    """COBYLA over real_amplitudes(2, reps=1) on H2; each energy is one ``run`` of one PUB."""
    ansatz = real_amplitudes(2, reps=1)

    def energy(theta: np.ndarray) -> float:
        runs.append(1)
        (result,) = estimator.run([(ansatz, H2, theta)]).result()
        return float(result.data.evs)

    x0 = np.full(ansatz.num_parameters, 0.1)
    found = minimize(energy, x0, method="COBYLA", options={"maxiter": 40, "rhobeg": 0.5})
    return float(found.fun), found.x


def test_vqe_for_h2_through_the_service(stack: Stack, estimator: Estimator) -> None:
    submitted = stack.topics.submitted
    before = len(read_topic(stack.services.kafka_bootstrap, submitted))
    runs: list[int] = []
    energy, theta = vqe(estimator, runs)
    after = len(read_topic(stack.services.kafka_bootstrap, submitted))
    assert after - before == len(runs) > 10
    reference, reference_theta = vqe(aer_estimator(), [])
    assert energy == pytest.approx(reference, abs=1e-6)
    np.testing.assert_allclose(theta, reference_theta, atol=1e-4)
    ground = np.linalg.eigvalsh(H2.to_matrix()).min()
    assert energy == pytest.approx(ground, abs=5e-3)
