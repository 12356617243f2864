"""Code shared by the orchestrator, the workers and the RideShare services."""
