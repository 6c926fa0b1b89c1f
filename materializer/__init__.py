"""The materializer: a service of its own (its own consumer group, Deployment and command,
``python -m materializer``) that keeps the Redis view the API answers from."""
