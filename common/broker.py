"""RabbitMQ connection settings and queue declarations shared by the orchestrator and workers."""

import pika

from common.config import settings


def connection_parameters() -> pika.URLParameters:
    """Return parameters with short heartbeats, so a frozen peer is noticed within seconds."""
    parameters = pika.URLParameters(settings.rabbitmq_url)
    parameters.heartbeat = settings.amqp_heartbeat
    parameters.blocked_connection_timeout = 30
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    return parameters


def declare_queues(channel) -> None:
    """Declare the request queues and the write log; declaring again is harmless."""
    for name in (settings.read_queue, settings.write_queue, settings.response_queue):
        channel.queue_declare(name, durable=True)
    channel.queue_declare(settings.sync_queue, durable=True, arguments={"x-queue-type": "stream"})


def control_queue(worker_id: str) -> str:
    """Return the name of the queue on which one worker replies to status requests."""
    return f"control.{worker_id}"
