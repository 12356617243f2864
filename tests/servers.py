"""Private RabbitMQ, ZooKeeper and FerretDB servers for the test suite.

Each server runs as a child process on free 127.0.0.1 ports with its data in
its own temporary directory. Use a server as a context manager, or call
`start()`, `stop()`, `restart()` and `close()` yourself:

    with FerretDBServer() as store:
        pymongo.MongoClient(store.url).test.docs.insert_one({"a": 1})

`start()` blocks until the server accepts clients and raises ServerStartError,
with the tail of the server's log, when it exits early or is not ready in time.
`restart()` keeps the data directory and the ports. `close()` stops the server
and deletes its directory.

Children die with the test process. Each gets PR_SET_PDEATHSIG, and an atexit
handler kills whatever is still running. The death signal fires when the
thread that started the child exits, so start servers from a thread that lives
as long as they should, such as pytest's main thread.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import pika
import pymongo
from kazoo.client import KazooClient

from common.config import settings

logger = logging.getLogger(__name__)

PORT_WAIT = 10.0  # seconds start() waits for a port that is still taken

# Where images/build_ferretdb.sh puts the binary. find_ferretdb() falls back to it.
FERRETDB_CACHE_PATH = "/var/cache/rideshare/ferretdb"
RABBITMQ_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
JAVA_LIBRARY = Path("/usr/share/java")

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_running: set[ServerProcess] = set()
_ports_handed_out: set[int] = set()
_node_numbers = itertools.count(1)
_random = random.SystemRandom()  # independent of tests that seed the random module
# Default ports of RabbitMQ's inter-node and management listeners and of MongoDB,
# which servers outside the tests may take at any time.
_RESERVED_PORTS = {15672, 25672, 27017}


class ServerStartError(RuntimeError):
    """A server process exited or did not accept clients before its deadline."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now and not handed out before.

    The port comes from below the kernel's ephemeral range, so outgoing
    connections cannot take it while its server restarts. Another process may
    still bind it before the server does.
    """
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    low, high = 10000, max(ephemeral_low - 1, 11000)
    for _ in range(1000):
        port = _random.randint(low, high)
        if port in _ports_handed_out or port in _RESERVED_PORTS:
            continue
        if port_is_free(port):
            _ports_handed_out.add(port)
            return port
    raise RuntimeError(f"found no free TCP port on 127.0.0.1 between {low} and {high}")


def port_is_free(port: int) -> bool:
    """Return whether nothing listens on 127.0.0.1:`port`.

    SO_REUSEADDR lets the bind succeed past connections in TIME_WAIT, as the
    servers' own binds do, but not past a listening socket.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _die_with_parent(death_signal: int, parent_pid: int) -> Callable[[], None]:
    """Build a preexec_fn that makes the child receive `death_signal` when its parent dies."""

    def set_death_signal() -> None:
        if _libc.prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0) != 0:
            os._exit(127)
        # The parent may have died between fork and prctl, and then no signal comes.
        if os.getppid() != parent_pid:
            os._exit(127)

    return set_death_signal


def process_group_alive(group_id: int) -> bool:
    """Return whether a process of the group is still running.

    Zombies count as gone because their sockets are closed, and a container's
    init may never reap them.
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # The command name in parentheses may contain spaces, so split after it.
        state, _parent, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == group_id and state != "Z":
            return True
    return False


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    # Each server runs in its own session, so the group id is the leader's pid
    # and the signal also reaches helpers such as the Erlang VM under its script.
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


class ServerProcess:
    """One server child process with its own temporary directory.

    Subclasses set `kind`, write their configuration in `_prepare()`, and
    implement `_command()` and `_probe()`. `_probe()` raises until the server
    accepts clients.
    """

    kind = "server"
    ready_timeout = 60.0  # seconds for start() to see the server accept clients
    stop_timeout = 30.0  # seconds for a graceful stop before SIGKILL
    poll_interval = 0.1  # seconds between readiness probes
    death_signal = signal.SIGKILL  # what the child receives when the test process dies

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"rideshare-{self.kind}-"))
        self.output_path = self.dir / "output.log"
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None  # of the latest start()
        self._prepare()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} dir={self.dir} running={self.running}>"

    def __enter__(self) -> Self:
        if not self.running:
            try:
                self.start()
            except BaseException:
                self.close()  # the error message contains the log tail
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Start the server and block until it accepts clients."""
        if self.running:
            raise RuntimeError(f"{self.kind} is already running with pid {self.pid}")
        self.kill()  # helpers of a server that exited by itself may still hold its ports
        # A readiness probe would take another server on our port for ours.
        for port in self._ports():
            # A killed server's port can stay taken for a moment on a loaded machine.
            deadline = time.monotonic() + PORT_WAIT
            while not port_is_free(port):
                if time.monotonic() > deadline:
                    raise ServerStartError(f"{self.kind} cannot start: 127.0.0.1:{port} is already in use")
                time.sleep(0.1)
        began = time.monotonic()
        with open(self.output_path, "ab") as output:
            self.process = subprocess.Popen(
                self._command(),
                cwd=self.dir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # prctl must run in the child, and only preexec_fn runs there before exec.
                preexec_fn=_die_with_parent(self.death_signal, os.getpid()),  # noqa: PLW1509
            )
        _running.add(self)
        try:
            self._wait_until_ready()
        except BaseException:
            self.kill()
            raise
        self.startup_seconds = time.monotonic() - began
        logger.info("%s started: pid %d, %s, ready in %.1f s", self.kind, self.pid, self.address, self.startup_seconds)

    def stop(self) -> None:
        """Stop the server gracefully, or with SIGKILL after `stop_timeout` seconds."""
        if self.process is None:
            return
        pid = self.process.pid
        if self.process.poll() is None:
            self._shutdown()
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s pid %d still running %.0f s after stop, killing it", self.kind, pid, self.stop_timeout
                )
        self.kill()
        logger.info("%s stopped: pid %d, %s", self.kind, pid, self.address)

    def kill(self) -> None:
        """Kill the server and its helper processes with SIGKILL, as in a crash."""
        if self.process is None:
            return
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait()
        # The script leader dies first, and the Erlang VM under it may still hold its ports.
        deadline = time.monotonic() + self.stop_timeout
        while process_group_alive(self.process.pid):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.kind} process group {self.process.pid} survived SIGKILL for {self.stop_timeout:.0f} s"
                )
            time.sleep(0.02)
        # Forget the process so that no later call signals its group id, which the kernel may reuse.
        self.process = None
        _running.discard(self)

    def restart(self) -> None:
        """Stop and start again on the same ports with the same data."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of each log file of the server, each under its path."""
        parts = []
        for path in self._log_files():
            try:
                text = path.read_text(errors="replace")
            except FileNotFoundError:
                continue
            tail = "\n".join(text.splitlines()[-lines:])
            parts.append(f"--- last {lines} lines of {path} ---\n{tail}")
        return "\n".join(parts) or f"(no log files yet in {self.dir})"

    @property
    def address(self) -> str:
        """Where clients connect, for log lines and error messages."""
        raise NotImplementedError

    def _prepare(self) -> None:
        """Write the configuration files into `self.dir`."""

    def _ports(self) -> list[int]:
        """Return the ports the server listens on."""
        return [self.port]

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        return dict(os.environ)

    def _probe(self) -> None:
        """Raise unless the server accepts a client now."""
        raise NotImplementedError

    def _shutdown(self) -> None:
        """Ask the server to stop. stop() then waits for the process to exit."""
        assert self.process is not None
        _signal_group(self.process, signal.SIGTERM)

    def _log_files(self) -> list[Path]:
        return [self.output_path]

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        while True:
            exit_code = self.process.poll()
            if exit_code is not None:
                raise ServerStartError(
                    f"{self.kind} exited with code {exit_code} before accepting clients at {self.address}\n"
                    f"{self.log_tail()}"
                )
            try:
                self._probe()
                return
            except Exception as error:  # noqa: BLE001 because any client failure means "not ready yet"
                last_error = error
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.kind} start timed out: no client connected to {self.address} within "
                    f"{self.ready_timeout:.0f} s. Last probe failed with {last_error!r}\n{self.log_tail()}"
                )
            time.sleep(self.poll_interval)


class RabbitMQServer(ServerProcess):
    """Debian's rabbitmq-server as a private node with its own name, ports and data.

    The node shares the machine's epmd on port 4369, which the first node starts
    and which keeps running after the node stops.

    After a restart the broker accepts connections a moment before it has
    recovered its stream queues (about 0.25 s after a kill, on a 2-core machine).
    Until then RabbitMQ 3.10 closes a channel that uses one with 404 "home node
    ... is down or inaccessible" or 406 "does not have a replica on the local node".
    """

    kind = "rabbitmq"
    # It boots in about 4 s on an idle 2-core machine and took over 10 s while other builds ran.
    ready_timeout = 120.0
    death_signal = signal.SIGTERM  # the start script traps it and stops the Erlang VM

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dist_port = free_port()  # Erlang distribution, used by rabbitmqctl
        self.node = f"rideshare-test-{os.getpid()}-{next(_node_numbers)}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        super().__init__()

    @property
    def address(self) -> str:
        return f"node {self.node} at 127.0.0.1:{self.port}"

    def _ports(self) -> list[int]:
        return [self.port, self.dist_port]

    def _prepare(self) -> None:
        home = self.dir / "home"
        home.mkdir()
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o600)  # Erlang ignores a cookie file that others can read
        # loopback_users = none lets guest log in from any address, as the compose stack's
        # broker does. This node still listens on 127.0.0.1 only.
        (self.dir / "rabbitmq.conf").write_text("loopback_users = none\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "rabbitmq-env.conf").write_text("")

    def _environment(self) -> dict[str, str]:
        environment = {name: value for name, value in os.environ.items() if not name.startswith("RABBITMQ_")}
        environment.update(
            HOME=str(self.dir / "home"),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.dir / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.dir / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(self.dir / "rabbitmq-env.conf"),
            # Keep the distribution listener on loopback too.
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return environment

    def _command(self) -> list[str]:
        # Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user and drops
        # the environment, so run the script it wraps.
        return [str(RABBITMQ_SCRIPTS / "rabbitmq-server")]

    def _probe(self) -> None:
        parameters = pika.URLParameters(f"{self.url}?connection_attempts=1&socket_timeout=1")
        pika.BlockingConnection(parameters).close()

    def _shutdown(self) -> None:
        try:
            self.rabbitmqctl("stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            logger.warning("rabbitmqctl stop failed for node %s, sending SIGTERM: %s", self.node, error)
            super()._shutdown()

    def rabbitmqctl(self, *arguments: str, timeout: float = 30.0) -> str:
        """Run `rabbitmqctl -n <node> <arguments>` and return its output.

        Raises subprocess.CalledProcessError, with the output, when it fails.
        """
        environment = self._environment()
        # The CLI listens on a distribution port of its own, by default one of 35672-35682.
        cli_port = str(free_port())
        environment.update(RABBITMQ_CTL_DIST_PORT_MIN=cli_port, RABBITMQ_CTL_DIST_PORT_MAX=cli_port)
        result = subprocess.run(
            [str(RABBITMQ_SCRIPTS / "rabbitmqctl"), "-n", self.node, *arguments],
            env=environment,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, result.args, result.stdout, result.stderr)
        return result.stdout

    def _log_files(self) -> list[Path]:
        return [self.output_path, self.dir / "log" / f"{self.node}.log"]


class ZooKeeperServer(ServerProcess):
    """A standalone ZooKeeper from Debian's jars with a 500 ms tick.

    Clients may ask for session timeouts from 1 s to 20 s.
    """

    kind = "zookeeper"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.hosts = f"127.0.0.1:{self.port}"
        super().__init__()

    @property
    def address(self) -> str:
        return self.hosts

    def _prepare(self) -> None:
        (self.dir / "data").mkdir()
        (self.dir / "zoo.cfg").write_text(
            "tickTime=500\n"
            f"dataDir={self.dir / 'data'}\n"
            f"clientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\n"
            "minSessionTimeout=1000\n"
            "maxSessionTimeout=20000\n"
            "admin.enableServer=false\n"
        )

    def _command(self) -> list[str]:
        # Debian's /usr/share/java contains six SLF4J bindings, and SLF4J 1.7 takes
        # the first on the class path. Without slf4j-simple first it may take the
        # no-op one, which hides every log line. slf4j-simple logs INFO to stderr.
        class_path = ":".join(
            [
                str(JAVA_LIBRARY / "slf4j-simple.jar"),
                str(JAVA_LIBRARY / "zookeeper.jar"),
                str(JAVA_LIBRARY / "*"),
            ]
        )
        return [
            "java",
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-Dzookeeper.jmx.log4j.disable=true",
            "-cp",
            class_path,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.dir / "zoo.cfg"),
        ]

    def _probe(self) -> None:
        client = KazooClient(hosts=self.hosts, timeout=2.0)
        try:
            client.start(timeout=1.0)
        finally:
            client.stop()
            client.close()


def find_ferretdb() -> str:
    """Return the FerretDB binary: FERRETDB_BIN (a path or a name on PATH), else the build cache."""
    configured = shutil.which(settings.ferretdb_bin)
    if configured:
        return configured
    if os.access(FERRETDB_CACHE_PATH, os.X_OK):
        return FERRETDB_CACHE_PATH
    raise ServerStartError(
        f"FerretDB binary not found: FERRETDB_BIN={settings.ferretdb_bin!r} is not executable "
        f"and {FERRETDB_CACHE_PATH} is missing; build it with images/build_ferretdb.sh"
    )


class FerretDBServer(ServerProcess):
    """FerretDB with its SQLite backend: a MongoDB-compatible store in a directory."""

    kind = "ferretdb"

    def __init__(self, port: int | None = None) -> None:
        self.binary = find_ferretdb()
        self.port = port or free_port()
        self.url = f"mongodb://127.0.0.1:{self.port}"
        super().__init__()

    @property
    def address(self) -> str:
        return self.url

    def _prepare(self) -> None:
        (self.dir / "data").mkdir()

    def _environment(self) -> dict[str, str]:
        return {**os.environ, "FERRETDB_TELEMETRY": "disable"}

    def _command(self) -> list[str]:
        return [
            self.binary,
            "--handler=sqlite",
            f"--sqlite-url=file:{self.dir / 'data'}/",
            f"--listen-addr=127.0.0.1:{self.port}",
            "--debug-addr=-",
            f"--state-dir={self.dir}",
        ]

    def _probe(self) -> None:
        client = pymongo.MongoClient(self.url, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
        try:
            client.admin.command("ping")
        finally:
            client.close()


@atexit.register
def _kill_running_servers() -> None:
    for server in list(_running):
        logger.warning("killing %s pid %s left running at exit", server.kind, server.pid)
        try:
            server.kill()
        except RuntimeError as error:
            logger.error("%s", error)
