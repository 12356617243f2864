"""Settings of every RideShare service, read from the environment once.

Each setting has a default that works inside the compose stack; the README
lists them. Services import `settings` and never read os.environ themselves.
"""

import os
from dataclasses import dataclass, field


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"setting {name} must be an integer, got {value!r}") from None


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"setting {name} must be a number, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    # Broker and coordination.
    rabbitmq_url: str = field(
        default_factory=lambda: _env_str("RABBITMQ_URL", "amqp://guest:guest@rabbitmq:5672/%2F")
    )
    amqp_heartbeat: int = field(default_factory=lambda: _env_int("AMQP_HEARTBEAT", 5))
    zookeeper_hosts: str = field(default_factory=lambda: _env_str("ZOOKEEPER_HOSTS", "zookeeper:2181"))
    zk_session_timeout: float = field(default_factory=lambda: _env_float("ZK_SESSION_TIMEOUT", 4.0))
    zk_root: str = field(default_factory=lambda: _env_str("ZK_ROOT", "/rideshare"))

    # Queue names. The write log is a RabbitMQ stream.
    read_queue: str = field(default_factory=lambda: _env_str("READ_QUEUE", "readQ"))
    write_queue: str = field(default_factory=lambda: _env_str("WRITE_QUEUE", "writeQ"))
    response_queue: str = field(default_factory=lambda: _env_str("RESPONSE_QUEUE", "responseQ"))
    sync_queue: str = field(default_factory=lambda: _env_str("SYNC_QUEUE", "syncQ"))

    # Orchestrator.
    runtime: str = field(default_factory=lambda: _env_str("RUNTIME", "docker"))
    rpc_timeout: float = field(default_factory=lambda: _env_float("RPC_TIMEOUT", 5.0))
    read_wait: float = field(default_factory=lambda: _env_float("READ_WAIT", 2.0))
    max_body_bytes: int = field(default_factory=lambda: _env_int("MAX_BODY_BYTES", 16 * 1024 * 1024))
    # Largest log entry or reply a worker publishes; below RabbitMQ's own
    # max_message_size (128 MiB by default in 3.10 to 3.13).
    max_message_bytes: int = field(default_factory=lambda: _env_int("MAX_MESSAGE_BYTES", 64 * 1024 * 1024))
    autoscale_window: float = field(default_factory=lambda: _env_float("AUTOSCALE_WINDOW", 120.0))
    reads_per_slave: int = field(default_factory=lambda: _env_int("READS_PER_SLAVE", 20))
    min_slaves: int = field(default_factory=lambda: _env_int("MIN_SLAVES", 1))
    max_slaves: int = field(default_factory=lambda: _env_int("MAX_SLAVES", 4))
    reconcile_interval: float = field(default_factory=lambda: _env_float("RECONCILE_INTERVAL", 0.5))
    # Kill a running worker whose ZooKeeper session expired (frozen or cut off);
    # 0 leaves it to exit by itself once it runs again, fenced by the epoch marker.
    kill_expired_workers: bool = field(default_factory=lambda: _env_int("KILL_EXPIRED_WORKERS", 1) != 0)

    # Docker runtime.
    project: str = field(default_factory=lambda: _env_str("PROJECT_NAME", "rideshare"))
    worker_image: str = field(default_factory=lambda: _env_str("WORKER_IMAGE", "rideshare-worker:latest"))
    store_image: str = field(default_factory=lambda: _env_str("STORE_IMAGE", "mongo:7"))
    store_command: str = field(
        default_factory=lambda: _env_str("STORE_COMMAND", "mongod --bind_ip 127.0.0.1 --wiredTigerCacheSizeGB 0.25")
    )
    docker_network: str = field(default_factory=lambda: _env_str("DOCKER_NETWORK", "rideshare"))

    # Local runtime: workers and FerretDB stores as processes on this machine.
    ferretdb_bin: str = field(default_factory=lambda: _env_str("FERRETDB_BIN", "ferretdb"))
    local_data_dir: str = field(default_factory=lambda: _env_str("LOCAL_DATA_DIR", "/tmp/rideshare-local"))

    # Worker (set per worker by the runtime that spawns it).
    worker_id: str = field(default_factory=lambda: _env_str("WORKER_ID", ""))
    store_url: str = field(default_factory=lambda: _env_str("STORE_URL", "mongodb://127.0.0.1:27017"))
    store_database: str = field(default_factory=lambda: _env_str("STORE_DATABASE", "rideshare"))
    store_process: str = field(default_factory=lambda: _env_str("STORE_PROCESS", ""))

    # RideShare services.
    dbaas_url: str = field(default_factory=lambda: _env_str("DBAAS_URL", "http://orchestrator:8000"))
    gateway_url: str = field(default_factory=lambda: _env_str("GATEWAY_URL", "http://gateway:80"))
    dbaas_timeout: float = field(default_factory=lambda: _env_float("DBAAS_TIMEOUT", 10.0))
    dbaas_retries: int = field(default_factory=lambda: _env_int("DBAAS_RETRIES", 3))

    log_level: str = field(default_factory=lambda: _env_str("LOG_LEVEL", "INFO"))


settings = Settings()

# Settings a worker inherits from the orchestrator that spawns it.
WORKER_SETTINGS = (
    "RABBITMQ_URL", "AMQP_HEARTBEAT", "ZOOKEEPER_HOSTS", "ZK_SESSION_TIMEOUT", "ZK_ROOT",
    "READ_QUEUE", "WRITE_QUEUE", "RESPONSE_QUEUE", "SYNC_QUEUE", "READ_WAIT", "RPC_TIMEOUT",
    "STORE_DATABASE", "LOG_LEVEL", "MAX_MESSAGE_BYTES",
)


def worker_environment() -> dict:
    """Return the orchestrator's values of WORKER_SETTINGS that are set, to pass to a new worker."""
    return {name: os.environ[name] for name in WORKER_SETTINGS if name in os.environ}
