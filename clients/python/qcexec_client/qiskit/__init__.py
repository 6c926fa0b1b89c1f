"""Qiskit's V2 primitives on the qcexec service: ``Sampler`` (BaseSamplerV2) and ``Estimator``
(BaseEstimatorV2), one service task per PUB. Needs the ``qiskit`` extra."""

from qcexec_client.qiskit.estimator import Estimator
from qcexec_client.qiskit.job import QcexecJob
from qcexec_client.qiskit.limits import PubRefused
from qcexec_client.qiskit.sampler import Sampler

__all__ = ["Estimator", "PubRefused", "QcexecJob", "Sampler"]
