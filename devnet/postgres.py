"""A throwaway PostgreSQL server for tests and benches: `initdb` into a temporary directory, `postgres` on a
free loopback port (TCP only, no unix socket), stopped by PID at the end, directory removed.

PostgreSQL refuses to run as root ("root execution of the PostgreSQL server is not permitted"),
so under root the cluster is created and served as an unprivileged system user (`postgres` when
Debian's package made one, else `nobody`); the data directory is chowned to it. Durability is
switched off (fsync, synchronous_commit, full_page_writes): the cluster dies with the test run.

The binaries come from PATH or Debian's /usr/lib/postgresql/<major>/bin (`make postgres`
installs the `postgresql` package when neither has them). No server found is a test error,
never a skip: the relay's PostgreSQL backend is part of what `make test` proves.

    with PostgresServer() as pg:
        url = pg.create_database("t1")      # postgresql+psycopg://postgres@127.0.0.1:<port>/t1
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from devnet.anvil import free_port

SUPERUSER = "postgres"  # the cluster's superuser role (initdb -U), whatever the OS user


def find_bin(name: str) -> str | None:
    """`name` (initdb, postgres) from PATH, else from the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


def _run_as() -> str | None:
    """The OS user to run the server as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


class PostgresServer:
    def __init__(self, port: int | None = None, startup_timeout: float = 30.0):
        self.initdb, self.postgres = find_bin("initdb"), find_bin("postgres")
        if not (self.initdb and self.postgres):
            raise RuntimeError(
                "PostgreSQL server binaries (initdb, postgres) not found on PATH or in /usr/lib/postgresql/*/bin: "
                "run `make postgres` (installs Debian's postgresql package)"
            )
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.user = _run_as()
        self.dir: str | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname}"

    def start(self) -> PostgresServer:
        # not pytest's tmp_path: its parents are 0700 root, which the server's user cannot traverse
        self.dir = tempfile.mkdtemp(prefix="cspread-pg-")
        data, log = os.path.join(self.dir, "data"), os.path.join(self.dir, "server.log")
        if self.user:
            shutil.chown(self.dir, self.user)
        r = subprocess.run(
            [self.initdb, "-D", data, "-U", SUPERUSER, "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if r.returncode != 0:
            self._cleanup()
            raise RuntimeError(f"initdb failed ({r.returncode}): {r.stderr[-2000:]}")
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen(
                [
                    self.postgres,
                    "-D",
                    data,
                    "-p",
                    str(self.port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    "",  # no unix socket: loopback TCP only
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                user=self.user,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run does not hit it first: we stop it
            )
        self._wait_ready(log)
        return self

    def _wait_ready(self, log: str) -> None:
        import psycopg

        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                out = Path(log).read_text(errors="replace")[-2000:]
                self._cleanup()
                raise RuntimeError(f"postgres exited with {self.proc.returncode}: {out}")
            try:
                psycopg.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"postgres did not accept connections within {self.startup_timeout} s") from None
                time.sleep(0.05)

    def create_database(self, name: str | None = None) -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = name or "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.dsn(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster, by PID), SIGKILL after 15 s; remove the cluster."""
        p = self.proc
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGINT)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(5)
        self._cleanup()

    def _cleanup(self) -> None:
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
