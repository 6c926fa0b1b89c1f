"""``python -m api.openapi``: write the HTTP contract, ``openapi.json`` at the repository's root,
as the API serves it at /openapi.json, so that clients can be generated from the repository and
a change of the contract shows in review (tests/unit/test_openapi.py keeps it in step)."""

from __future__ import annotations

from pathlib import Path

import orjson

from api.app import create_app
from runtime.settings import Settings

OPENAPI = Path(__file__).resolve().parent.parent / "openapi.json"


def document() -> dict:
    """The document the app serves, without starting it (no broker or Redis needed)."""
    return create_app(Settings()).openapi()


def rendered() -> bytes:
    return orjson.dumps(document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main() -> None:
    OPENAPI.write_bytes(rendered())
    print(OPENAPI)


if __name__ == "__main__":
    main()
