"""``qcexec_client.qiskit.Sampler`` on the real stack against ``qiskit_aer.primitives.SamplerV2``
in-process, on the cases of Qiskit's own SamplerV2 tests: Bell states, parameterised
real_amplitudes circuits with every form of parameter values and broadcasting, reversed
measurement order, several classical registers, shots from the run, the PUB or the default,
invalid PUBs; and one task per PUB."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from qcexec_client.qiskit import PubRefused, Sampler
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.circuit.library import real_amplitudes
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.providers import JobStatus

from tests.qiskit_reference import SEED, aer_sampler, assert_same_registers, for_aer_sampler
from tests.stack import Stack, read_topic

SHOTS = 4000


@pytest.fixture(scope="module")
def sampler(stack: Stack) -> Iterator[Sampler]:
    made = Sampler(stack.url, default_shots=SHOTS, seed=SEED)
    yield made
    made.client.close()


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="Bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def ansatz(reps: int = 2) -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.append(real_amplitudes(num_qubits=2, reps=reps), [0, 1])
    circuit.measure_all()
    return circuit


def agree(sampler: Sampler, pubs: list, **run: object) -> list:
    """Runs the PUBs on both; asserts they agree; returns ours."""
    ours = sampler.run(pubs, **run).result()
    theirs = aer_sampler(SHOTS).run(for_aer_sampler(pubs), **run).result()
    assert len(ours) == len(theirs) == len(pubs)
    for mine, ref in zip(ours, theirs, strict=True):
        assert_same_registers(mine, ref)
    return list(ours)


def test_bell_alone_and_three_times(sampler: Sampler) -> None:
    (result,) = agree(sampler, [bell()])
    assert set(result.data.meas.get_counts()) == {"00", "11"}
    agree(sampler, [bell(), bell(), bell()])


@pytest.mark.parametrize(
    "values", [[0] * 6, [1] * 6, [0, 1, 1, 2, 3, 5], [1, 2, 3, 4, 5, 6]], ids=str
)
def test_real_amplitudes_at_one_point_in_every_form(sampler: Sampler, values: list) -> None:
    circuit = ansatz()
    names = tuple(p.name for p in circuit.parameters)
    forms = [values, tuple(values), np.array(values), {names: values}]
    agree(sampler, [(circuit, form) for form in forms])
    (as_list,) = agree(sampler, [(circuit, [values])])  # a sweep of one point
    assert as_list.data.meas.shape == (1,)


def test_parameter_arrays_broadcast_to_the_pub_shape(sampler: Sampler) -> None:
    circuit = ansatz()
    flat = np.linspace(0, 1, 5 * 6).reshape(5, 6)
    (five,) = agree(sampler, [(circuit, flat)])
    assert five.data.meas.shape == (5,)
    grid = np.linspace(0, 3, 2 * 3 * 6).reshape(2, 3, 6)
    (cube,) = agree(sampler, [(circuit, grid)])
    assert cube.data.meas.shape == (2, 3)
    deeper = ansatz(reps=3)
    agree(sampler, [(deeper, [0, 1, 2, 3, 4, 5, 6, 7]), (circuit, [[1] * 6] * 3)])


def test_one_named_parameter_in_every_form(sampler: Sampler) -> None:
    x = Parameter("x")
    circuit = QuantumCircuit(1, 1)
    circuit.ry(x, 0)
    circuit.measure(0, 0)
    forms = [{"x": np.pi}, {x: np.pi}, {"x": np.array(np.pi)}, {x: [np.pi]}, {"x": [np.pi]}]
    for result in agree(sampler, [(circuit, form) for form in forms]):
        assert result.data.c.get_int_counts() in ({1: SHOTS}, {0: SHOTS})


def test_reversed_measurement_order(sampler: Sampler) -> None:
    x, y = Parameter("x"), Parameter("y")
    circuit = QuantumCircuit(3, 3)
    circuit.rx(x, 0)
    circuit.rx(y, 1)
    circuit.x(2)
    circuit.measure(0, 2)
    circuit.measure(1, 1)
    circuit.measure(2, 0)
    first, second = agree(sampler, [(circuit, [0, 0]), (circuit, [np.pi / 2, 0])])
    assert first.data.c.get_int_counts() == {1: SHOTS}
    assert set(second.data.c.get_int_counts()) == {1, 5}


def _registers() -> QuantumCircuit:
    return QuantumCircuit(
        QuantumRegister(3), ClassicalRegister(1, "a"), ClassicalRegister(2, "b"),
        ClassicalRegister(3, "c"),
    )  # fmt: skip


def test_several_classical_registers(sampler: Sampler) -> None:
    circuits = []
    for qubits, clbits in [([0, 1, 2, 2], [0, 2, 4, 5]), ([1], [5]), ([0, 1, 2], [5, 5, 5])]:
        circuit = _registers()
        circuit.h(range(3))
        circuit.measure(qubits, clbits)
        circuits.append(circuit)
    unmeasured = _registers()
    unmeasured.h(range(3))
    circuits.append(unmeasured)
    wide = QuantumCircuit(QuantumRegister(3), *map(ClassicalRegister, (1, 5, 3), "abc"))
    wide.h(range(3))
    wide.measure([0, 1, 2, 2], [0, 2, 4, 5])
    results = agree(sampler, [*circuits, wide])
    assert results[0].data.c.get_int_counts().keys() == {0, 6}
    assert results[3].data.a.get_int_counts() == {0: SHOTS}


def test_basis_states_of_one_and_two_qubits(sampler: Sampler) -> None:
    circuits = []
    for width, flips in [(1, []), (1, [0]), (2, []), (2, [0]), (2, [1]), (2, [0, 1])]:
        circuit = QuantumCircuit(width)
        for qubit in flips:
            circuit.x(qubit)
        circuit.measure_all()
        circuits.append(circuit)
    results = agree(sampler, circuits)
    assert [r.data.meas.get_int_counts() for r in results][2:] == [{i: SHOTS} for i in range(4)]


def test_shots_from_the_run_the_pub_or_the_default(stack: Stack) -> None:
    sampler = Sampler(stack.url, default_shots=300, seed=SEED)
    ran = sampler.run([bell(), (bell(), None, 100), SamplerPub(bell(), shots=200)], shots=50)
    assert [r.data.meas.num_shots for r in ran.result()] == [50, 100, 200]
    (default,) = sampler.run([bell()]).result()
    assert default.data.meas.num_shots == 300
    assert sum(default.data.meas.get_counts().values()) == 300


def test_invalid_pubs_raise_value_error_like_aer(sampler: Sampler) -> None:
    plain = QuantumCircuit(1)
    plain.measure_all()
    with_parameters = QuantumCircuit(2)
    with_parameters.append(real_amplitudes(num_qubits=1, reps=1), [0])
    with_parameters.measure_all()
    invalid = [
        [(plain, [1e2])],
        [with_parameters],
        [(with_parameters, [])],
        [(with_parameters, None)],
        [(with_parameters, [1e2])],
        [(with_parameters, [1e2] * 100)],
        [(plain, None, -1)],
        [(plain, None, 0)],
        plain,
        (with_parameters, [0, 1]),  # one PUB not in a list
    ]
    for pubs in invalid:
        with pytest.raises(ValueError):
            aer_sampler(SHOTS).run(pubs).result()
        with pytest.raises(ValueError):
            sampler.run(pubs).result()
    for shots in (-1, 0):
        with pytest.raises(ValueError):
            aer_sampler(SHOTS).run([plain], shots=shots).result()
        with pytest.raises(ValueError):
            sampler.run([plain], shots=shots)


def test_one_task_per_pub_and_the_job_interface(stack: Stack, sampler: Sampler) -> None:
    before = len(read_topic(stack.services.kafka_bootstrap, stack.topics.submitted))
    sweep = np.linspace(0, 1, 40 * 6).reshape(40, 6)
    job = sampler.run([bell(), (ansatz(), sweep)])
    assert job.job_id() and len(job.task_ids) == 2
    result = job.result()
    assert job.status() == JobStatus.DONE and job.done() and job.in_final_state()
    assert result[1].data.meas.shape == (40,)
    after = len(read_topic(stack.services.kafka_bootstrap, stack.topics.submitted))
    assert after - before == 2


def test_results_too_large_for_a_record(sampler: Sampler) -> None:
    """Each shot's outcome of 100 000 shots of 10 bits does not fit in one record: the counts
    stand in for it. A sweep whose counts cannot fit is refused, naming the PUB."""
    wide = QuantumCircuit(10)
    wide.h(range(10))
    wide.measure_all()
    (many,) = sampler.run([wide], shots=100_000).result()
    assert many.data.meas.num_shots == 100_000 and many.data.meas.num_bits == 10
    theta = Parameter("theta")
    swept = QuantumCircuit(16)
    swept.h(range(16))
    swept.rz(theta, 0)
    swept.measure_all()
    with pytest.raises(PubRefused, match=r"PUB 1: .*split its parameter values"):
        sampler.run([bell(), (swept, np.zeros((500, 1)))], shots=10_000)


def test_a_sampler_with_a_devices_noise_samples_as_aer_from_that_backend(stack: Stack) -> None:
    from qiskit import transpile
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    noisy = Sampler(stack.url, default_shots=2000, seed=23, noise={"device": "fake_manila"})
    (result,) = noisy.run([bell()]).result()
    simulator = AerSimulator.from_backend(FakeManilaV2())
    # The service transpiles for the device at optimization level 1 with the task's seed.
    isa = transpile(bell(), simulator, optimization_level=1, seed_transpiler=23)
    reference = simulator.run(isa, shots=2000, seed_simulator=23).result().get_counts()
    assert result.data.meas.get_counts() == reference
    assert {"01", "10"} & reference.keys()  # the device's noise is there
    assert result.metadata["provenance"]["device"] == "fake_manila"
    assert result.metadata["provenance"]["seed"] == 23
