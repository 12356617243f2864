"""RabbitMQ RPC over one long-lived connection, owned by one thread.

pika connections are not thread-safe, so Flask threads never touch the
connection. `call` queues a request and wakes the I/O thread with
`add_callback_threadsafe`. The I/O thread publishes it with `reply_to` set to
the response queue and routes each reply to its waiter by correlation id.
If the broker goes away, the thread reconnects, and calls in flight time out.
"""

import json
import logging
import queue
import threading
import time
import uuid

import pika

from common import broker
from common.config import settings

logger = logging.getLogger(__name__)

RECONNECT_DELAY = 1.0


class RpcTimeout(Exception):
    """No reply arrived in time; the request may still be carried out."""


class _Waiter:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: dict | None = None


class RpcClient:
    def __init__(self) -> None:
        self._outbox: queue.Queue = queue.Queue()
        self._waiters: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self.connected = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="rpc-io", daemon=True)
        self._thread.start()

    def call(self, queue_name: str, body: dict, timeout: float) -> dict:
        """Publish `body` to `queue_name` and block until the reply (a dict) or RpcTimeout."""
        correlation_id = uuid.uuid4().hex
        waiter = _Waiter()
        with self._lock:
            self._waiters[correlation_id] = waiter
        self._outbox.put((queue_name, json.dumps(body).encode(), correlation_id))
        self._wake()
        try:
            if not waiter.event.wait(timeout):
                raise RpcTimeout(f"no reply from {queue_name} within {timeout} s")
            return waiter.reply
        finally:
            with self._lock:
                self._waiters.pop(correlation_id, None)

    def close(self) -> None:
        self._closing = True
        self._wake()

    def _wake(self) -> None:
        connection = self._connection
        if connection is not None:
            try:
                connection.add_callback_threadsafe(self._drain_outbox)
            except Exception:
                # The connection is closing; the I/O thread drains the outbox after reconnecting.
                pass

    def _run(self) -> None:
        while not self._closing:
            try:
                self._serve()
            except pika.exceptions.AMQPError as error:
                self.connected.clear()
                self._connection = None
                logger.warning("broker connection lost (%r); reconnecting in %s s", error, RECONNECT_DELAY)
                time.sleep(RECONNECT_DELAY)

    def _serve(self) -> None:
        connection = pika.BlockingConnection(broker.connection_parameters())
        self._channel = connection.channel()
        broker.declare_queues(self._channel)
        self._channel.basic_consume(settings.response_queue, self._on_reply, auto_ack=True)
        self._connection = connection
        self.connected.set()
        logger.info("connected to the broker")
        self._drain_outbox()
        while not self._closing:
            connection.process_data_events(time_limit=1)
        connection.close()

    def _drain_outbox(self) -> None:
        while True:
            try:
                queue_name, payload, correlation_id = self._outbox.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                if correlation_id not in self._waiters:
                    continue  # the caller already gave up
            properties = pika.BasicProperties(reply_to=settings.response_queue, correlation_id=correlation_id)
            self._channel.basic_publish("", queue_name, payload, properties=properties)

    def _on_reply(self, channel, method, properties, body) -> None:
        with self._lock:
            waiter = self._waiters.get(properties.correlation_id)
        if waiter is None:
            return  # a reply to a call that timed out, or to an earlier orchestrator
        waiter.reply = json.loads(body)
        waiter.event.set()
