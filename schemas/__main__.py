"""``python -m schemas``: write the JSON Schema files of the events (the published contract)."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas.events import EVENT_MODELS

SCHEMA_DIR = Path(__file__).parent / "json"


def rendered() -> dict[Path, bytes]:
    """Every schema file's path and content, as generated from the models."""
    files = {}
    for name, model in EVENT_MODELS.items():
        version = model.model_fields["version"].default
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{name}.v{version}.schema.json",
            **model.model_json_schema(mode="serialization"),
        }
        content = orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        files[SCHEMA_DIR / f"{name}.v{version}.schema.json"] = content
    return files


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for path, content in rendered().items():
        path.write_bytes(content)
        print(path)


if __name__ == "__main__":
    main()
