"""``Sampler``: Qiskit's SamplerV2 on the service. Each PUB is one task: its circuit as
OpenQASM 3 and its parameter values as one sweep, answered as one BitArray per classical
register, shaped like the PUB."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from qiskit.primitives import BaseSamplerV2, DataBin, SamplerPubResult
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike

from qcexec_client.client import Client
from qcexec_client.errors import Refused
from qcexec_client.models import Task
from qcexec_client.qiskit import wire
from qcexec_client.qiskit.job import OnTheService, QcexecJob, submit_all
from qcexec_client.qiskit.limits import too_large


class Sampler(OnTheService, BaseSamplerV2):
    """SamplerV2 over the qcexec service at ``url`` (default QCEXEC_URL).

    ``default_shots`` for PUBs and runs that give none; ``seed`` makes the service's samples
    repeatable. Each shot's outcome comes from the service's per-shot ``memory`` where it keeps
    it (a PUB of one point), else from its counts in a random order."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        default_shots: int = 1024,
        seed: int | None = None,
        client: Client | None = None,
        timeout: float | None = None,
        method: str | None = None,
        noise: Mapping[str, Any] | None = None,
    ) -> None:
        OnTheService.__init__(self, url, api_key, seed, client, timeout, method, noise)
        self.default_shots = default_shots

    def run(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> QcexecJob:
        shots = self.default_shots if shots is None else shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        for index, pub in enumerate(coerced):
            if pub.shots is None or pub.shots < 1:
                raise ValueError(f"PUB {index}: shots must be at least 1, not {pub.shots}")
        task_ids, builds = submit_all(self.client, coerced, self._submit)
        return QcexecJob(self.client, task_ids, builds, timeout=self.timeout)

    def _submit(self, index: int, pub: SamplerPub):
        circuit, shape, shots = pub.circuit, pub.shape, pub.shots
        size = int(np.prod(shape, dtype=int))
        if not any(
            item.operation.name == "measure" or getattr(item.operation, "blocks", ())
            for item in circuit.data
        ):
            # Nothing is measured: every register reads 0 at every shot, no task needed.
            zeros = [np.zeros((shots, circuit.num_clbits), dtype=bool)] * size
            arrays = wire.bit_arrays(circuit, zeros, shape)
            return None, lambda _: SamplerPubResult(
                DataBin(**arrays, shape=shape), {"shots": shots}
            )
        program = wire.exported(circuit)
        if circuit.num_parameters:
            points = wire.points(circuit, pub.parameter_values, program.names)
            parameters = points[0] if shape == () else points
            fields = {"shots": shots, "parameters": parameters, "memory": shape == ()}
        else:
            # The same circuit at every point: one run of all the shots, split in order.
            fields = {"shots": shots * size, "memory": True}
        try:
            try:
                task_id = self.client.submit(
                    program.qasm, seed=self.seed, **fields, **self.simulation
                )
            except Refused as refused:
                if "memory" not in refused.fields:
                    raise
                fields["memory"] = False  # counts instead of each shot's outcome
                task_id = self.client.submit(
                    program.qasm, seed=self.seed, **fields, **self.simulation
                )
        except Refused as refused:
            raise too_large(index, refused) from refused

        def build(task: Task | None) -> SamplerPubResult:
            assert task is not None
            rng = np.random.default_rng(task.seed)
            per_point = wire.shots_of(task, circuit.num_clbits, rng)
            if not circuit.num_parameters:
                (everything,) = per_point
                per_point = [everything[i * shots : (i + 1) * shots] for i in range(size)]
            arrays = wire.bit_arrays(circuit, per_point, shape)
            meta = {
                "shots": shots,
                "circuit_metadata": circuit.metadata,
                "task_id": task.task_id,
                "provenance": task.provenance,
            }
            return SamplerPubResult(DataBin(**arrays, shape=shape), meta)

        return task_id, build
