"""One worker: follows the write log, serves reads, and takes writes when elected.

All AMQP work runs on one thread with one pika BlockingConnection, because
pika connections are not thread-safe. The loop dispatches broker events,
then handles what arrived in one batch: log entries first (so replies reflect
the newest data), then writes, then reads. kazoo calls back from its own
thread and only sets flags that the loop reads.

A worker goes through these states:
``catching-up`` → ``serving`` (as slave), or ``electing`` → ``master``.
"""

import json
import logging
import os
import signal
import threading
import time
import uuid

import pika
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NoNodeError
from pymongo.errors import ConnectionFailure

from common import broker
from common.config import settings
from worker import writes
from worker.election import PidElection
from worker.log_rules import marker
from worker.store import Store

logger = logging.getLogger(__name__)

SYNC_PREFETCH = 1000
WORK_PREFETCH = 16
STATUS_INTERVAL = 0.5
CATCH_UP_IDLE = 0.3
CATCH_UP_LAG = 20
MARKER_ATTEMPTS = 3
RECONNECT_TIMEOUT = 120.0
RECONNECT_DELAY = 1.0
MAX_BATCH_BYTES = 1024 * 1024


class Fatal(Exception):
    """A condition after which this worker must exit without replying, as the log rules require."""


class Worker:
    def __init__(self, worker_id: str, pid: int, store: Store, zk: KazooClient) -> None:
        self.id = worker_id
        self.pid = pid
        self.store = store
        self.zk = zk
        self.role = "slave"
        self.state = "catching-up"
        self.position, self.epochs, self.answers = store.load_state()
        self.stopping = threading.Event()
        self.session_lost = threading.Event()
        self.election = PidElection(zk, f"{settings.zk_root}/election", worker_id, pid)

        self.sync_batch: list = []
        self.incoming_writes: list = []
        self.incoming_reads: list = []
        self.incoming_control: list = []
        self.pending: dict = {}
        self.waiting_reads: list = []
        self.marker_token = None
        self.marker_attempts = 0
        self.read_tag = None
        self.write_tag = None
        self.last_sync_message = time.monotonic()
        self.head_hint = -1
        self.start_hint = -1
        self.last_status = 0.0
        self.published_status = None
        zk.add_listener(self._on_zk_state)

    # Logging context: every line names the worker, its role, its epoch and its log position.

    def _context(self) -> str:
        return f"worker={self.id} role={self.role} epoch={self.epochs.epoch} position={self.position}"

    def log(self, message: str, *args, level: int = logging.INFO) -> None:
        logger.log(level, "%s " + message, self._context(), *args)

    # ZooKeeper.

    def _on_zk_state(self, state: str) -> None:
        if state == KazooState.LOST:
            self.session_lost.set()

    def _register(self) -> None:
        self.zk.ensure_path(f"{settings.zk_root}/workers")
        self.zk.create(self._znode(), self._status_bytes(), ephemeral=True)

    def _znode(self) -> str:
        return f"{settings.zk_root}/workers/{self.id}"

    def _status(self) -> dict:
        return {"id": self.id, "pid": self.pid, "role": self.role, "state": self.state,
                "position": self.position, "epoch": self.epochs.epoch}

    def _status_bytes(self) -> bytes:
        return json.dumps(self._status()).encode()

    def _publish_status(self) -> None:
        status = self._status_bytes()
        if status != self.published_status:
            self.zk.set(self._znode(), status)
            self.published_status = status

    def _log_head_hint(self) -> int:
        """Return the highest position any registered worker has applied: catch up at least to there."""
        path = f"{settings.zk_root}/workers"
        self.zk.ensure_path(path)
        head = -1
        for child in self.zk.get_children(path):
            try:
                data, _ = self.zk.get(f"{path}/{child}")
            except NoNodeError:
                continue
            position = json.loads(data).get("position")
            if position is not None:
                head = max(head, position)
        return head

    def _serving_slaves(self) -> int:
        path = f"{settings.zk_root}/workers"
        count = 0
        for child in self.zk.get_children(path):
            if child == self.id:
                continue
            try:
                data, _ = self.zk.get(f"{path}/{child}")
            except NoNodeError:
                continue
            status = json.loads(data)
            if status.get("role") == "slave" and status.get("state") == "serving":
                count += 1
        return count

    # Main loop.

    def run(self) -> None:
        """Serve until stopped (returns) or until a fatal condition (raises Fatal).

        A slave that loses the broker reconnects and resumes the log after its
        applied position. A master (or a worker appending its marker) cannot:
        its store may hold changes whose entries the broker never confirmed, so
        it exits and its store goes with it.
        """
        self.head_hint = self.start_hint = self._log_head_hint()
        self._register()
        self.log("started, replaying the log from %s", "the start" if self.position is None else self.position + 1)
        while not self.stopping.is_set():
            try:
                self._connect()
                self._serve()
            except pika.exceptions.AMQPError as error:
                if self.role != "slave":
                    raise Fatal(f"lost the broker connection as {self.role}: {error!r}") from error
                self.log("lost the broker connection (%r); reconnecting", error, level=logging.WARNING)
                self._forget_deliveries()
                # A restarted RabbitMQ 3.10 may return 404 for a stream for a few
                # seconds, so wait a moment before each new attempt.
                time.sleep(RECONNECT_DELAY)
        self._stop_gracefully()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            if self.session_lost.is_set():
                raise Fatal("ZooKeeper session lost")
            self.connection.process_data_events(time_limit=0.05)
            self._handle_batch()

    def _connect(self) -> None:
        deadline = time.monotonic() + RECONNECT_TIMEOUT
        while True:
            try:
                self.connection = pika.BlockingConnection(broker.connection_parameters())
                self._open_channels()
                return
            except pika.exceptions.AMQPConnectionError as error:
                if time.monotonic() > deadline or self.stopping.is_set():
                    raise Fatal(f"cannot reach the broker: {error!r}") from error
                # Back off before the next attempt while the broker restarts.
                time.sleep(RECONNECT_DELAY)

    def _forget_deliveries(self) -> None:
        """Drop deliveries of the closed connection: the broker requeues what was not acked."""
        connection = getattr(self, "connection", None)
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass  # it is being dropped anyway
        self.sync_batch = []
        self.incoming_reads = []
        self.incoming_control = []
        self.waiting_reads = []
        self.read_tag = None

    def _open_channels(self) -> None:
        self.sync_channel = self.connection.channel()
        broker.declare_queues(self.sync_channel)
        self.sync_channel.basic_qos(prefetch_count=SYNC_PREFETCH)
        start = "first" if self.position is None else self.position + 1
        self.sync_channel.basic_consume(
            settings.sync_queue, self._on_sync, arguments={"x-stream-offset": start}
        )
        self.work_channel = self.connection.channel()
        self.work_channel.basic_qos(prefetch_count=WORK_PREFETCH)
        control = broker.control_queue(self.id)
        self.work_channel.queue_declare(control, exclusive=True, auto_delete=True)
        self.work_channel.basic_consume(control, self._on_control)
        self.log_channel = self.connection.channel()
        self.log_channel.confirm_delivery()
        if self.state == "serving" and self.role == "slave":
            self._consume_reads(True)

    def _on_sync(self, channel, method, properties, body) -> None:
        self.sync_batch.append((properties.headers["x-stream-offset"], json.loads(body), method.delivery_tag))
        self.last_sync_message = time.monotonic()

    def _on_write(self, channel, method, properties, body) -> None:
        self.incoming_writes.append((method.delivery_tag, properties, body))

    def _on_read(self, channel, method, properties, body) -> None:
        self.incoming_reads.append((method.delivery_tag, properties, body))

    def _on_control(self, channel, method, properties, body) -> None:
        self.incoming_control.append((method.delivery_tag, properties, body))

    def _handle_batch(self) -> None:
        if self.sync_batch:
            self._apply_log_batch()
        if self.state == "catching-up" and self._caught_up():
            self._become_serving()
        if self.state == "serving" and self.role == "slave" and self.election.is_leader():
            self._start_election()
        if self.role == "master" and self.incoming_writes:
            self._handle_writes()
        if self.incoming_reads or self.waiting_reads:
            self._handle_reads()
        if self.incoming_control:
            self._handle_control()
        if time.monotonic() - self.last_status > STATUS_INTERVAL:
            self._periodic()

    def _caught_up(self) -> bool:
        """Tell whether this worker has replayed the log far enough to serve.

        The head hint is the highest position any registered worker had applied
        when this one started, refreshed while catching up. Under steady writes
        the log never goes quiet, so being within CATCH_UP_LAG entries of the
        hint counts as caught up. Reads that need newer data pass `after`.
        """
        applied = self.position if self.position is not None else -1
        if applied < self.start_hint:
            return False
        idle = time.monotonic() - self.last_sync_message > CATCH_UP_IDLE
        return idle or self.head_hint - applied <= CATCH_UP_LAG

    def _become_serving(self) -> None:
        self.state = "serving"
        self.election.join()
        self.log("caught up with the log; joined the election")
        self._publish_status()
        if not self.election.is_leader():
            self._consume_reads(True)

    def _periodic(self) -> None:
        self.last_status = time.monotonic()
        if self.state == "catching-up":
            self.head_hint = self._log_head_hint()
            self._publish_status()
            return
        if not self.election.still_contending():
            raise Fatal("election znode removed")
        if self.role == "master":
            if self.election.leader() != self.id:
                raise Fatal("another worker leads the election")
            self._consume_reads(self._serving_slaves() == 0)
        self._publish_status()

    # The write log.

    def _apply_log_batch(self) -> None:
        batch, self.sync_batch = self.sync_batch, []
        to_apply = []
        resolved = []
        for offset, entry, _ in batch:
            valid = self.epochs.observe(entry)
            mine = entry.get("master") == self.id
            if entry["kind"] == "marker":
                self._on_marker(entry, valid, mine)
                continue
            if not valid:
                if mine:
                    raise Fatal(f"own entry at {offset} is void: a newer master has written a marker")
                continue
            for write in entry["writes"]:
                write["answer"] = {**write["answer"], "id": write["id"], "position": offset}
                if mine and self.role == "master":
                    write["local"] = True
                    resolved.append(write)
                to_apply.append(write)
                self.answers[write["id"]] = write["answer"]
        self.store.apply(to_apply)
        self.position = batch[-1][0]
        self.store.record_position(self.position, self.epochs)
        self.sync_channel.basic_ack(batch[-1][2], multiple=True)
        for write in resolved:
            self._reply_pending(write["id"], 200, write["answer"])

    def _on_marker(self, entry: dict, valid: bool, mine: bool) -> None:
        if mine and entry.get("token") == self.marker_token and self.role == "electing":
            if valid:
                self._become_master()
            elif self.marker_attempts < MARKER_ATTEMPTS:
                self.log("marker for epoch %s lost a race; trying the next epoch", entry["epoch"])
                self._append_marker()
            else:
                raise Fatal("could not establish an epoch")
        elif valid and not mine and self.role == "master":
            raise Fatal(f"fenced by worker {entry['master']} at epoch {entry['epoch']}")
        elif valid:
            self.log("epoch %s begins, master %s", entry["epoch"], entry["master"])

    def _append(self, entry: dict) -> None:
        """Append to the write log and wait for the broker's confirm; a failure is fatal."""
        try:
            self.log_channel.basic_publish(
                "", settings.sync_queue, json.dumps(entry).encode(),
                properties=pika.BasicProperties(delivery_mode=2), mandatory=True,
            )
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as error:
            raise Fatal(f"append to the write log failed: {error}") from error

    # Election and mastership.

    def _start_election(self) -> None:
        self.role = "electing"
        self._consume_reads(False)
        self.log("elected; appending an epoch marker")
        self._append_marker()

    def _append_marker(self) -> None:
        self.marker_attempts += 1
        self.marker_token = uuid.uuid4().hex
        entry = marker(self.epochs.epoch + 1, self.id)
        entry["token"] = self.marker_token
        self._append(entry)

    def _become_master(self) -> None:
        self.role = "master"
        self.log("became master; taking writes")
        self._publish_status()
        self.write_tag = self.work_channel.basic_consume(settings.write_queue, self._on_write)
        self._consume_reads(self._serving_slaves() == 0)

    def _consume_reads(self, enabled: bool) -> None:
        if enabled and self.read_tag is None:
            self.read_tag = self.work_channel.basic_consume(settings.read_queue, self._on_read)
            if self.role == "master":
                self.log("no slave serves; the master answers reads")
        elif not enabled and self.read_tag is not None:
            self.work_channel.basic_cancel(self.read_tag)
            self.read_tag = None
            if self.role == "master":
                self.log("a slave serves; the master stops answering reads")

    # Writes (master only).

    def _handle_writes(self) -> None:
        """Execute the writes that arrived, and log them as one batch entry.

        One entry per batch saves a confirm round trip and a log delivery per
        write; its writes share one position. A batch closes before it would
        pass MAX_BATCH_BYTES, and a single write larger than MAX_ENTRY_BYTES is
        undone and rejected, since the broker could not take it.
        """
        incoming, self.incoming_writes = self.incoming_writes, []
        batch: list = []
        size = 0
        for tag, properties, body in incoming:
            request = json.loads(body)
            write_id = request["id"]
            if write_id in self.answers:
                self._reply(properties, 200, self.answers[write_id])
                self.work_channel.basic_ack(tag)
                continue
            if write_id in self.pending:
                self.pending[write_id].append((tag, properties))
                continue
            entry = self._execute_write(tag, properties, request)
            if entry is None:
                continue
            entry_size = len(json.dumps(entry))
            if batch and size + entry_size > MAX_BATCH_BYTES:
                self._append_batch(batch)
                batch, size = [], 0
            batch.append(entry)
            size += entry_size
        if batch:
            self._append_batch(batch)

    def _execute_write(self, tag, properties, request: dict) -> dict | None:
        """Apply one write to the store; return its log entry, or None after rejecting it with 400."""
        try:
            answer, entry, undo = writes.execute(self.store, request)
        except writes.WriteRejected as error:
            self._reject_write(tag, properties, request["id"], str(error))
            return None
        entry.update({"id": request["id"], "answer": answer})
        try:
            size = len(json.dumps(entry))
        except (TypeError, ValueError) as error:
            # A value JSON cannot carry (a date from the store, say) could not be replayed.
            undo()
            self._reject_write(tag, properties, request["id"], f"the write produced a value JSON cannot hold: {error}")
            return None
        if size > settings.max_message_bytes:
            undo()
            message = f"the write's log entry would exceed {settings.max_message_bytes} bytes; write less at once"
            self._reject_write(tag, properties, request["id"], message)
            return None
        self.pending[request["id"]] = [(tag, properties)]
        return entry

    def _reject_write(self, tag, properties, write_id: str, message: str) -> None:
        self.log("rejected write %s: %s", write_id, message[:200])
        self._reply(properties, 400, {"error": message})
        self.work_channel.basic_ack(tag)

    def _append_batch(self, writes_in_batch: list) -> None:
        self._append({"kind": "batch", "epoch": self.epochs.epoch, "master": self.id, "writes": writes_in_batch})

    def _reply_pending(self, write_id: str, status: int, body: dict) -> None:
        for tag, properties in self.pending.pop(write_id, []):
            self._reply(properties, status, body)
            self.work_channel.basic_ack(tag)

    # Reads.

    def _handle_reads(self) -> None:
        incoming, self.incoming_reads = self.incoming_reads, []
        now = time.monotonic()
        for tag, properties, body in incoming:
            request = json.loads(body)
            self.waiting_reads.append((now + settings.read_wait, tag, properties, request))
        still_waiting = []
        applied = self.position if self.position is not None else -1
        for deadline, tag, properties, request in self.waiting_reads:
            after = request.get("after")
            if after is None or after <= applied:
                self._answer_read(properties, request)
            elif now > deadline:
                message = f"position {after} not applied within {settings.read_wait} s; retry later"
                self._reply(properties, 503, {"error": message})
            else:
                still_waiting.append((deadline, tag, properties, request))
                continue
            self.work_channel.basic_ack(tag)
        self.waiting_reads = still_waiting

    def _answer_read(self, properties, request: dict) -> None:
        try:
            result = self.store.read(request)
        except ConnectionFailure:
            raise
        except Exception as error:
            # A query the store cannot run (an unknown operator, say) is the
            # client's error; failing the worker would only pass it to the next one.
            message = str(error).split(", full error")[0]
            self.log("rejected read on %s: %s", request["collection"], message[:200])
            self._reply(properties, 400, {"error": f"read failed: {message}"})
            return
        self._reply(properties, 200, result)

    # Control requests from the orchestrator.

    def _handle_control(self) -> None:
        incoming, self.incoming_control = self.incoming_control, []
        for tag, properties, body in incoming:
            request = json.loads(body)
            status = self._status()
            if request.get("digest"):
                status.update(self.store.digest())
            self._reply(properties, 200, status)
            self.work_channel.basic_ack(tag)

    def _reply(self, properties, status: int, body: dict) -> None:
        if not properties.reply_to:
            return
        payload = json.dumps({"status": status, "body": body}, default=str).encode()
        if len(payload) > settings.max_message_bytes:
            # The broker would close the channel on a message this large.
            message = f"the reply would exceed {settings.max_message_bytes} bytes; use limit and skip"
            payload = json.dumps({"status": 400, "body": {"error": message}}).encode()
        self.work_channel.basic_publish(
            "", properties.reply_to, payload,
            properties=pika.BasicProperties(correlation_id=properties.correlation_id),
        )

    # Shutdown.

    def _stop_gracefully(self) -> None:
        """Stop taking work, reply to writes already logged, and exit (SIGTERM, as in scale-in)."""
        self.log("stopping gracefully")
        self._consume_reads(False)
        if self.write_tag is not None:
            self.work_channel.basic_cancel(self.write_tag)
        deadline = time.monotonic() + settings.rpc_timeout
        while self.pending and time.monotonic() < deadline:
            self.connection.process_data_events(time_limit=0.05)
            if self.sync_batch:
                self._apply_log_batch()
        self.connection.close()


def install_signal_handlers(worker: Worker) -> None:
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())


def current_pid() -> int:
    return os.getpid()
