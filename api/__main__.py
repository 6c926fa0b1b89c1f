"""``python -m api``: serve the API with uvicorn on API_HOST:API_PORT."""

import uvicorn

from api.app import create_app
from runtime.logsetup import setup_logging
from runtime.settings import Settings
from runtime.telemetry import setup_tracing


def main() -> None:
    settings = Settings()
    setup_logging(settings, "api")
    setup_tracing(settings, "api")
    # log_config=None: uvicorn's loggers (access log included) go to our root handler.
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=settings.api_access_log,
    )


if __name__ == "__main__":
    main()
