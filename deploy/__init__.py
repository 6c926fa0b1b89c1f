"""Local (no Docker) process tooling: deploy.processes (child processes and their
supervision), deploy.broker (a Kafka broker), deploy.redis_server (a Redis server) and
deploy.stack (`make up`); deploy.local keeps their former names."""
