"""``python -m api``: serve the API with uvicorn on API_HOST:API_PORT."""

import logging

import uvicorn

from api.app import create_app
from qcexec.settings import Settings


def main() -> None:
    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)


if __name__ == "__main__":
    main()
