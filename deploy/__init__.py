"""Local (no Docker) process tooling: deploy.local (services as child processes) and
deploy.stack (`make up`)."""
