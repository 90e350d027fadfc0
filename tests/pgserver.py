"""A throw-away PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder, reachable
on a Unix socket only (no TCP port), stopped and removed at the end of the session.

initdb refuses to run as root, so when the tests run as root (CI, containers) the server runs as the
unprivileged user ``nobody`` (or $CLAIMS_AUDIT_PG_USER); its folder is handed to that user. The test
processes connect over the socket with ``trust`` authentication as the server's superuser role.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "claims_audit_test"


def find_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH (/usr/local/bin here), or Debian's
    /usr/lib/postgresql/<version>/bin (newest first)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: float(Path(p).parent.name),
                         reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


class Server:
    """One running server; :meth:`new_database` gives each test its own empty database."""

    def __init__(self, binaries: Path):
        self.binaries = binaries
        self.root = Path(tempfile.mkdtemp(prefix="claims-audit-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.socket_dir.mkdir()
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam(os.environ.get("CLAIMS_AUDIT_PG_USER", "nobody"))
            for path in (self.root, self.socket_dir):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args: str) -> None:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "HOME": str(self.root)}
        subprocess.run(args, check=True, capture_output=True, text=True, env=env, cwd=self.root, timeout=120,
                       **kwargs)

    def start(self) -> Server:
        self._run(str(self.binaries / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        options = (f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB")
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """A connection URL on the socket (the socket folder as the host parameter; no password)."""
        return f"postgresql://{user}@/{database}?host={self.socket_dir}"

    def admin(self):
        import psycopg

        return psycopg.connect(self.url(), autocommit=True)

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        with self.admin() as con:
            con.execute(f'CREATE DATABASE "{name}"')  # name made here, not from data
        return self.url(name)
