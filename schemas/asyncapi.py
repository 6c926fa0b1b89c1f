"""The AsyncAPI 3 document of the topics, generated from the event models (``python -m
schemas`` writes it to ``schemas/asyncapi.yaml``; a test keeps the file in sync)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schemas.events import EVENT_MODELS
from schemas.topics import Topics

_REF = "#/components/schemas/{model}"

#: What each topic is for, who writes it and who reads it.
_CHANNELS: dict[str, tuple[str, str, str]] = {
    "qc.submitted": (
        "Accepted submissions, one per task (a replay adds one with a larger generation).",
        "The API, after validating the program; `qcexec replay`.",
        "The processor group; any downstream service.",
    ),
    "qc.results": (
        "One terminal outcome per task and generation; compacted by task id.",
        "The processor group.",
        "The materializer; any downstream service.",
    ),
    "qc.cancellations": (
        "Clients' cancellation requests.",
        "The API.",
        "Every processor instance (no consumer group).",
    ),
    "qc.deadletter": (
        "Records of qc.submitted that could not be decoded, with the reason.",
        "The processor group.",
        "Operators.",
    ),
}

_KEYS = {
    "qc.deadletter": "The key of the record that could not be decoded.",
}


def _headers(name: str, version: int) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["content-type", "schema"],
        "properties": {
            "content-type": {"type": "string", "const": "application/json"},
            "schema": {
                "type": "string",
                "const": f"{name}/v{version}",
                "description": "Event name and major version: route on it without decoding.",
            },
            "traceparent": {
                "type": "string",
                "description": "W3C trace context of the task's trace, when tracing is on.",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            },
        },
    }


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """The model's schema, its nested models hoisted into ``components.schemas``."""
    schema = model.model_json_schema(mode="serialization", ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    return schema


def document(topics: Topics | None = None) -> dict[str, Any]:
    topics = topics or Topics()
    names = {
        "qc.submitted": topics.submitted,
        "qc.results": topics.results,
        "qc.cancellations": topics.cancellations,
        "qc.deadletter": topics.dead_letter,
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for name, model in EVENT_MODELS.items():
        version = model.model_fields["version"].default
        message = f"{model.__name__}V{version}"
        what, writers, readers = _CHANNELS[name]
        schemas[model.__name__] = _schema(model, schemas)
        messages[message] = {
            "name": message,
            "title": f"{name} v{version}",
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "headers": _headers(name, version),
            "payload": {"$ref": _REF.format(model=model.__name__)},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": _KEYS.get(name, "The task id.")},
                    "bindingVersion": "0.5.0",
                }
            },
        }
        channel = _channel_id(name)
        channels[channel] = {
            "address": names[name],
            "description": f"{what} Written by: {writers} Read by: {readers}",
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        }
        operations[f"receive{model.__name__}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"Subscribe to {name}.",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "qcexec topics",
            "version": "1",
            "description": (
                "The records qcexec writes to its Kafka-compatible log. Versioning: adding an "
                "optional field keeps the version (consumers ignore fields they do not know); "
                "any other change is a new version, announced in the `schema` header."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def _channel_id(name: str) -> str:
    return "".join(part.capitalize() if i else part for i, part in enumerate(name.split(".")))
