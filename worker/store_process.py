"""Start the worker's own store process (local runtime) so that it dies with the worker."""

import ctypes
import logging
import shlex
import signal
import subprocess

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    # Linux delivers SIGKILL to the child when the worker dies, even by SIGKILL,
    # so a crashed worker never leaves its store behind.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start(command: str) -> subprocess.Popen:
    """Start `command` (a shell-style command line) as a child that dies with this process."""
    logger.info("starting store process: %s", command)
    return subprocess.Popen(
        shlex.split(command),
        preexec_fn=die_with_parent,
        env={"FERRETDB_TELEMETRY": "disable", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
