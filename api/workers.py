"""``rag serve --workers N``: uvicorn's worker supervisor, with a listening socket per worker.

uvicorn hands every worker one shared listening socket, and the worker whose event loop wakes
first accepts every connection waiting (asyncio accepts up to the backlog per wake-up): clients
that open their keep-alive connections together, as a load balancer or a benchmark does, can all
land on one worker while the other idles (docs/performance-log.md, "Workers sharing a socket").
uvicorn has no option for it, so each worker here gets a socket of its own, bound to the same
address with ``SO_REUSEPORT``, and the kernel spreads new connections over them. The rest
(starting, health checks, restarting a dead worker, signals) is uvicorn's own supervisor. The
cost: a restarted worker's socket takes its share of new connections at once, and they wait until
that worker has loaded its models.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from uvicorn import Config
from uvicorn.supervisors import Multiprocess


def balancing_supported() -> bool:
    """Whether the kernel spreads connections over sockets sharing a port (Linux does; other
    systems accept ``SO_REUSEPORT`` without spreading, so they keep uvicorn's shared socket)."""
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def refuse_if_taken(host: str, port: int) -> None:
    """Raise ``OSError`` when something listens on ``host:port`` already: ``SO_REUSEPORT`` would
    otherwise let this server join another one of the same user on that port (another
    ``rag serve``, on another index) and share its traffic silently. A socket without the option
    cannot bind beside a listening one."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAITs are fine
        probe.bind((host, port))


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` that other sockets may share (``SO_REUSEPORT``)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class BalancedWorkers(Multiprocess):
    """uvicorn's ``Multiprocess``, each worker process started with a socket of its own.

    The supervisor asks for ``self.sockets`` each time it starts a worker (at start, on a dead
    worker's restart, on SIGHUP); each read binds a new socket. The supervisor's copy is closed
    once the worker holds it (the socket is duplicated into the child when it starts), so a
    worker that dies takes its socket, and the connections the kernel would route to it, along.
    """

    def __init__(self, config: Config) -> None:
        self._pending: list[socket.socket] = []
        # Bound here, before any worker starts, so a port in use fails at once and clearly.
        refuse_if_taken(config.host, config.port)
        self._first: socket.socket | None = listening_socket(config.host, config.port, config.backlog)
        super().__init__(config, sockets=[])

    @property  # type: ignore[override]
    def sockets(self) -> list[socket.socket]:
        sock, self._first = self._first, None
        if sock is None:
            sock = listening_socket(self.config.host, self.config.port, self.config.backlog)
        self._pending.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, value: Any) -> None:  # uvicorn's __init__ assigns the shared list: unused
        pass

    def keep_subprocess_alive(self) -> None:
        self._release_started()
        super().keep_subprocess_alive()

    def init_processes(self) -> None:
        super().init_processes()
        self._release_started()

    def terminate_all(self) -> None:
        self._release_started()
        super().terminate_all()

    def _release_started(self) -> None:
        """Close the supervisor's copies: every worker started has its own duplicate by now."""
        while self._pending:
            self._pending.pop().close()
