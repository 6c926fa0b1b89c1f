"""``Estimator``: Qiskit's EstimatorV2 on the service. Each PUB is one task: its circuit as
OpenQASM 3, its parameter values as one sweep and its observables as Pauli strings; the
service's values for every (point, observable) pair are broadcast back to the PUB's shape."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from qiskit.primitives import BaseEstimatorV2, DataBin, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike

from qcexec_client.client import Client
from qcexec_client.errors import Refused
from qcexec_client.models import Task
from qcexec_client.qiskit import wire
from qcexec_client.qiskit.job import OnTheService, QcexecJob, submit_all
from qcexec_client.qiskit.limits import too_large

_PAULI = re.compile(r"^[IXYZ]+$")


def shots_for(precision: float) -> int:
    """The shots the service measures for a precision: 0 (exact) for 0, else ceil(1/p²)."""
    return 0 if precision == 0 else math.ceil(1 / precision**2)


def _observables(pub: EstimatorPub) -> list[dict[str, float]]:
    """The PUB's observables, flattened in C order, each as Pauli strings to coefficients."""
    width = pub.circuit.num_qubits
    flat = []
    for terms in pub.observables.ravel().tolist():
        for label in terms:
            if not _PAULI.match(label):
                raise ValueError(f"observable term {label!r}: only Pauli strings (I, X, Y, Z)")
        flat.append({k: float(v) for k, v in terms.items()} or {"I" * width: 0.0})
    return flat


class Estimator(OnTheService, BaseEstimatorV2):
    """EstimatorV2 over the qcexec service at ``url`` (default QCEXEC_URL).

    ``default_precision`` 0 gives exact expectation values (the service's ``"shots": 0``); a
    precision p > 0 is measured with ceil(1/p²) shots per group of commuting Pauli strings, and
    ``stds`` are the sample's standard errors. ``seed`` makes sampled estimates repeatable."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        default_precision: float = 0.0,
        seed: int | None = None,
        client: Client | None = None,
        timeout: float | None = None,
        method: str | None = None,
        noise: Mapping[str, Any] | None = None,
    ) -> None:
        OnTheService.__init__(self, url, api_key, seed, client, timeout, method, noise)
        self.default_precision = default_precision

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> QcexecJob:
        precision = self.default_precision if precision is None else precision
        if precision < 0:
            raise ValueError(f"precision must be at least 0, not {precision}")
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        task_ids, builds = submit_all(self.client, coerced, self._submit)
        return QcexecJob(self.client, task_ids, builds, timeout=self.timeout)

    def _submit(self, index: int, pub: EstimatorPub):
        circuit, shape = pub.circuit, pub.shape
        precision = float(pub.precision if pub.precision is not None else self.default_precision)
        if precision < 0:
            raise ValueError(f"PUB {index}: precision must be at least 0, not {precision}")
        shots = shots_for(precision)
        program = wire.exported(circuit)
        observables = _observables(pub)
        fields: dict = {"shots": shots, "observables": observables, "seed": self.seed}
        bindings = pub.parameter_values
        if circuit.num_parameters:
            points = wire.points(circuit, bindings, program.names)
            fields["parameters"] = points[0] if bindings.shape == () else points
            point_index = np.arange(len(points)).reshape(bindings.shape)
        else:
            point_index = np.zeros((), dtype=int)  # the same state at every point
        observable_index = np.arange(len(observables)).reshape(pub.observables.shape)
        try:
            task_id = self.client.submit(program.qasm, **fields, **self.simulation)
        except Refused as refused:
            raise too_large(index, refused) from refused

        def build(task: Task | None) -> PubResult:
            assert task is not None
            evs = np.array([p.expectation_values for p in task.points], dtype=float)
            stds = np.array([p.standard_errors for p in task.points], dtype=float)
            rows = np.broadcast_to(point_index, shape)
            columns = np.broadcast_to(observable_index, shape)
            data = DataBin(evs=evs[rows, columns], stds=stds[rows, columns], shape=shape)
            meta = {
                "target_precision": precision,
                "shots": shots,
                "circuit_metadata": circuit.metadata,
                "task_id": task.task_id,
                "provenance": task.provenance,
            }
            return PubResult(data, meta)

        return task_id, build
