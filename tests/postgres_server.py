"""A real PostgreSQL server for the tests: initdb into a temporary directory, started on a free
loopback port, stopped when the test session ends.

Root cannot run PostgreSQL, so as root the server runs as the ``postgres`` user. Without the
binaries the tests that need the server skip, unless LEADSCORE_REQUIRE_POSTGRES=1 (set by
``.ci/run``), where they fail: CI must never pass by skipping them.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest


def _bindir() -> str | None:
    for candidate in [os.environ.get("PG_BINDIR")] + sorted(
            glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if candidate and os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--"] + argv


class PostgresServer:
    """A running server: ``uri`` for clients (user postgres, trust auth, database postgres)."""

    def __init__(self):
        self.bindir = _bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
        self.dir = tempfile.mkdtemp(prefix="leadscore-pg-")
        self.data = os.path.join(self.dir, "data")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = _free_port()
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w",
                  "-t", "60", "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
                  " -c fsync=off -c synchronous_commit=off -c full_page_writes=off", "start")
        self.uri = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        argv = _as_server_user([os.path.join(self.bindir, tool), *args])
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_uri():
    """URI of a fresh PostgreSQL server for this test session (see the module docstring)."""
    try:
        server = PostgresServer()
    except RuntimeError as e:
        if os.environ.get("LEADSCORE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {e}")
        pytest.skip(f"no PostgreSQL server: {e}")
    try:
        yield server.uri
    finally:
        server.stop()
