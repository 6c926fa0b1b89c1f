"""The shared runtime every service stands on: settings, the Redis view, the Kafka and Redis
clients' options, topics, retries, telemetry and health. No service's own logic lives here."""
