"""One agent process and its socket: start it, send a command, read the measured reply, fork it,
wait for it, kill it.

The protocol is ``agent.c``'s: one command line, one reply line (``ok VALUE DMIN DMAJ``, ``err
ERRNO DMIN DMAJ`` or ``sig SIGNO ADDR DMIN DMAJ``); ``fork`` passes the child's socket back with
SCM_RIGHTS. Agents are children of this process (spawned directly, or forked with CLONE_PARENT),
so this process waits for every one of them and reads its exit status. The :class:`Janitor` is a
separate process that kills the agents, restores settings and removes files if this process dies
without cleaning up (even by SIGKILL): it acts when its stdin reaches end of file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from dataclasses import dataclass

PAGE_BATCH = 65536  # agent.c PAGE_BATCH


class AgentDied(Exception):
    """The agent ended during a command (killed by a signal, or gone); ``signo`` is the signal,
    ``fault`` the reply its signal handler sent first (if it could)."""

    def __init__(self, signo: int | None, fault: "Reply | None" = None):
        super().__init__(f"agent died (signal {signo})")
        self.signo = signo
        self.fault = fault


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: ``kind`` ok/err/sig, ``value`` (address, pid or errno), fault counts measured
    around the work, and for ``sig`` the signal number."""

    kind: str
    value: int
    minor: int
    major: int
    signo: int = 0


def _parse(line: bytes) -> Reply:
    parts = line.decode("ascii", "replace").split()
    if not parts:
        raise AgentDied(None)
    if parts[0] == "sig" and len(parts) >= 5:
        return Reply("sig", int(parts[1], 16), int(parts[3]), int(parts[4]), signo=int(parts[2]))
    if parts[0] in ("ok", "err") and len(parts) >= 4:
        return Reply(parts[0], int(parts[1], 16), int(parts[2]), int(parts[3]))
    raise AgentDied(None)


class Agent:
    """One running agent: its pid, its socket, and whether it has been reaped."""

    def __init__(self, pid: int, sock: socket.socket):
        self.pid = pid
        self.sock = sock
        self.buffer = b""
        self.exit_status: int | None = None  # os.waitpid status once reaped

    @classmethod
    def start(cls, program: str) -> "Agent":
        """Start an agent program as a child of this process."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            theirs.set_inheritable(True)
            pid = os.posix_spawn(program, [program, str(theirs.fileno()), str(os.getpid())], os.environ,
                                 setsigmask=())
        finally:
            theirs.close()
        return cls(pid, ours)

    # ---------------------------------------------------------------- protocol
    def _read_line(self, with_fd: bool = False) -> tuple[bytes, int | None]:
        fd = None
        while b"\n" not in self.buffer:
            try:
                if with_fd and fd is None:
                    data, fds, _, _ = socket.recv_fds(self.sock, 4096, 1)
                    if fds:
                        fd = fds[0]
                        for extra in fds[1:]:
                            os.close(extra)
                else:
                    data = self.sock.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data:
                return b"", fd
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line, fd

    def request(self, command: str, payload: bytes = b"") -> Reply:
        """Send one command and return its reply; raise AgentDied if the agent ended meanwhile."""
        try:
            self.sock.sendall(command.encode("ascii") + b"\n" + payload)
        except (BrokenPipeError, ConnectionResetError):
            raise AgentDied(self._death_signal()) from None
        line, _ = self._read_line()
        if not line:
            raise AgentDied(self._death_signal())
        reply = _parse(line)
        if reply.kind == "sig":
            raise AgentDied(self._death_signal() or reply.signo, reply)
        return reply

    def fork(self) -> tuple[Reply, "Agent | None"]:
        """Fork the agent; return the reply and the child (None if the fork failed)."""
        try:
            self.sock.sendall(b"fork\n")
        except (BrokenPipeError, ConnectionResetError):
            raise AgentDied(self._death_signal()) from None
        line, fd = self._read_line(with_fd=True)
        if not line:
            if fd is not None:
                os.close(fd)
            raise AgentDied(self._death_signal())
        reply = _parse(line)
        if reply.kind != "ok" or fd is None:
            if fd is not None:
                os.close(fd)
            return reply, None
        return reply, Agent(reply.value, socket.socket(fileno=fd))

    # ---------------------------------------------------------------- lifetime
    def _death_signal(self) -> int | None:
        status = self.wait()
        if status is not None and os.WIFSIGNALED(status):
            return os.WTERMSIG(status)
        return None

    def wait(self, block: bool = True) -> int | None:
        """Reap the agent (once) and return its wait status; None if it is still running."""
        if self.exit_status is None:
            try:
                pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return None
            if pid == 0:
                return None
            self.exit_status = status
        return self.exit_status

    def kill(self) -> None:
        """Kill and reap the agent; closing its socket alone would also end it."""
        if self.exit_status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Janitor:
    """The clean-up process: told about every agent, setting, directory and group as it is made,
    it undoes them all when this process ends without doing so itself."""

    def __init__(self, program: str):
        self.proc = subprocess.Popen([program, "--janitor"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=False)

    def tell(self, record: str) -> None:
        """Send one record (``pid N``, ``sysctl PATH VALUE``, ``forget PATH``, ``rmtree PATH``,
        ``rmdir PATH``, ``reset``)."""
        try:
            self.proc.stdin.write(record.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def close(self) -> None:
        """End the janitor: it cleans whatever is still recorded, then exits."""
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
