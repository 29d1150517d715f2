"""Running the service: backup and restore, liveness of its processes (heartbeats),
readiness and monitoring checks."""
