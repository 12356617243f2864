"""The DBaaS orchestrator: HTTP API, RPC to workers, reconciliation and autoscaling."""
