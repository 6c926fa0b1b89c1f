"""``GET /devices``: the device snapshots whose noise a task may run under, so that clients
can offer the names (``{"noise": {"device": name}}``) without guessing them."""

from __future__ import annotations

from fastapi import APIRouter

from api.models import DeviceInfo, DeviceList
from programs.devices import catalog

router = APIRouter(tags=["devices"])


@router.get(
    "/devices",
    operation_id="list_devices",
    response_model=DeviceList,
    summary="Device snapshots a task's noise may come from",
    description="Each with its qubits. The circuit is transpiled for the device (its gates, "
    "coupling map and a layout chosen with the task's seed) and simulated with its calibrated "
    "noise, as `AerSimulator.from_backend` does.",
)
async def devices() -> DeviceList:
    return DeviceList(
        devices=[DeviceInfo(name=d.name, qubits=d.qubits) for d in catalog().values()]
    )
