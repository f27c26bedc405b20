"""Server processes for the live benchmarks, and a resource sampler.

:class:`ServerGroup` starts N ``gunicorn -k gevent -w 1`` processes (one worker each, as in
docs/operations.md) on free ports of 127.0.0.1, waits for their health check and stops them
(terminate, then kill). :class:`Sampler` reads CPU and RSS of the server processes (master and
worker), of PostgreSQL and Redis and of the machine once a second from a thread, with psutil.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.tree()[1:]]

    def tree(self) -> list[psutil.Process]:
        try:
            master = psutil.Process(self.proc.pid)
            return [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


class ServerGroup:
    """``count`` gunicorn processes serving ``target`` (e.g. ``wsgi:app``) with ``env``."""

    def __init__(
        self,
        target: str,
        count: int,
        env: dict[str, str],
        log_dir: Path,
        *,
        worker_connections: int = 10000,
        label: str = "server",
    ):
        self.target = target
        self.label = label
        self.servers: list[Server] = []
        log_dir.mkdir(parents=True, exist_ok=True)
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        full_env = {**os.environ, **env}
        self.command: list[str] = []
        try:
            for _ in range(count):
                port = free_port()
                self.command = [
                    gunicorn,
                    "-k",
                    "gevent",
                    "-w",
                    "1",
                    "-b",
                    f"127.0.0.1:{port}",
                    "--worker-connections",
                    str(worker_connections),
                    "--timeout",
                    "120",
                    "--graceful-timeout",
                    "5",
                    "--log-level",
                    "warning",
                    target,
                ]
                log_path = log_dir / f"{label}-{port}.log"
                with open(log_path, "w") as log:
                    proc = subprocess.Popen(
                        self.command,
                        cwd=ROOT,
                        env=full_env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                self.servers.append(Server(port, proc, log_path))
            for s in self.servers:
                self._wait_healthy(s)
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self, s: Server, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{s.url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if s.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.label} on port {s.port} did not start:\n"
                    + s.log_path.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.2)

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def log_tail(self, chars: int = 2000) -> str:
        return "\n".join(
            f"--- {s.log_path.name}\n{s.log_path.read_text(errors='replace')[-chars:]}"
            for s in self.servers
        )

    def stop(self) -> None:
        for s in self.servers:
            if s.proc.poll() is None:
                s.proc.terminate()
        for s in self.servers:
            try:
                s.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # Only our own process group (start_new_session): master and its worker.
                os.killpg(s.proc.pid, 9)
                s.proc.wait()


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


@dataclass
class ProcStats:
    cpu_start: float | None = None
    cpu_last: float = 0.0
    rss_peak: int = 0  # the gunicorn worker (the process that serves)
    master_rss_peak: int = 0

    def cpu(self) -> float:
        return 0.0 if self.cpu_start is None else self.cpu_last - self.cpu_start


@dataclass
class Sampler:
    """Once a second: CPU seconds and peak RSS of each server (master + worker), PostgreSQL and
    Redis (all their processes on the machine: other users' work counts too), machine CPU."""

    servers: list[Server]
    interval: float = 1.0
    pg_url: str | None = None  # to find the backends of our database
    pg_dbname: str | None = None
    stats: dict[str, ProcStats] = field(default_factory=dict)
    busy: list[tuple[float, float]] = field(default_factory=list)  # (wall time, machine CPU %)
    history: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _extra_cpu: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)
    _started: bool = False
    _pg: Any = None

    def start(self) -> Sampler:
        psutil.cpu_percent(None)
        self._sample()
        self._started = True
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sampler")
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()
            self.busy.append((time.time(), psutil.cpu_percent(None)))

    def _our_backends(self) -> set[int]:
        if not self.pg_url or not self.pg_dbname:
            return set()
        import psycopg

        try:
            if self._pg is None:
                self._pg = psycopg.connect(self.pg_url, autocommit=True)
            rows = self._pg.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.pg_dbname,)
            ).fetchall()
        except psycopg.Error:
            return set()
        return {pid for (pid,) in rows}

    def _by_name(self, label: str, names: tuple[str, ...], pids: set[int] | None = None) -> None:
        # Processes come and go (PostgreSQL backends): sum each one's CPU since we first saw it.
        seen = self._extra_cpu.setdefault(label, {})
        for p in psutil.process_iter(["name"]):
            if p.info["name"] not in names or (pids is not None and p.pid not in pids):
                continue
            try:
                c = _cpu(p)
            except psutil.Error:
                continue
            # Present at the start: count from now; started later: count all its CPU.
            first, _ = seen.get(p.pid, (c if not self._started else 0.0, c))
            seen[p.pid] = (first, c)
        st = self.stats.setdefault(label, ProcStats(cpu_start=0.0))
        st.cpu_last = sum(last - first for first, last in seen.values())

    def _sample(self) -> None:
        for i, s in enumerate(self.servers):
            st = self.stats.setdefault(f"{i + 1}", ProcStats())
            try:
                procs = s.tree()
                cpu = sum(_cpu(p) for p in procs)
                rss = sum(p.memory_info().rss for p in procs[1:])
                master_rss = procs[0].memory_info().rss if procs else 0
            except psutil.Error:
                continue
            if st.cpu_start is None:
                st.cpu_start = cpu
            st.cpu_last = cpu
            st.rss_peak = max(st.rss_peak, rss)
            st.master_rss_peak = max(st.master_rss_peak, master_rss)
        self._by_name("postgres", ("postgres", "postmaster"))
        if self.pg_dbname:
            self._by_name("pg_ours", ("postgres",), self._our_backends())
        self._by_name("redis", ("redis-server",))
        self.history.append((time.time(), {k: v.cpu() for k, v in self.stats.items()}))

    def cpu_between(self, label: str, t0: float, t1: float) -> float:
        """CPU seconds of ``label`` between two wall-clock times (nearest samples)."""
        if not self.history:
            return 0.0

        def at(t: float) -> float:
            best = min(self.history, key=lambda h: abs(h[0] - t))
            return best[1].get(label, 0.0)

        return at(t1) - at(t0)

    def busy_between(self, t0: float, t1: float) -> list[float]:
        return [b for t, b in self.busy if t0 <= t <= t1]

    def stop(self) -> dict[str, ProcStats]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        if self._pg is not None:
            self._pg.close()
        return self.stats
