"""A real PostgreSQL server for the tests: Debian's ``postgresql`` binaries, ``initdb`` in a temporary folder,
``pg_ctl`` on a free port of 127.0.0.1, a fresh database per test. Never a mock.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root the server runs as a dedicated system user,
``graphconv-pg`` (created when missing); as anyone else it runs as that user. The folder (data, unix socket, log)
is private to the server and removed when the test session ends (:func:`stop_shared_server`, also at exit).

Without the binaries (or psycopg): as root (``bash run.sh test`` installs them as root, and CI runs so) the
PostgreSQL tests FAIL, saying what to install; as another user they are skipped with that sentence, unless
``GRAPHCONV_TEST_POSTGRES=require`` is set, which makes them fail there too (``=skip`` skips them anywhere).
``GRAPHCONV_PG_BINDIR`` names another folder of ``initdb`` and ``pg_ctl``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

PG_USER = "graphconv-pg"  # the system user the server runs as when the tests run as root
START_TIMEOUT_S = 60
MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql package "
    "(apt-get install postgresql; bash run.sh test does so as root)"
)


def find_bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: ``GRAPHCONV_PG_BINDIR``, Debian's newest
    ``/usr/lib/postgresql/<v>/bin``, or the PATH's."""
    given = os.environ.get("GRAPHCONV_PG_BINDIR")
    candidates = [Path(given)] if given else []
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    candidates += debian
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ensure_user() -> str:
    """The user the server runs as: this one, or (as root) ``graphconv-pg``, created as a system user if missing."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
            capture_output=True,
        )
    return PG_USER


class PostgresServer:
    """One private PostgreSQL cluster: start, a database per test, stop."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.user = _ensure_user()
        self.password = secrets.token_hex(12)
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="graphconv-pg-"))
        self._lock = threading.Lock()
        self._count = 0
        self._running = False
        self._owner = os.getpid()  # only this process stops it (a forked child's exit leaves it running)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        as_user = {"user": self.user} if os.geteuid() == 0 else {}
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            check=False,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            cwd=self.root,
            **as_user,  # type: ignore[call-overload]  # subprocess.run takes user= (Python 3.9+)
        )

    def start(self) -> PostgresServer:
        """initdb (password auth over TCP) and pg_ctl start on a free port; raises with the server's log."""
        if os.geteuid() == 0:
            shutil.chown(self.root, user=self.user)
        self.root.chmod(0o700)
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, user=self.user)
        done = self._run(
            "initdb", "-D", str(self.root / "data"), "-U", "postgres", "--pwfile", str(pwfile),
            "--auth-host=scram-sha-256", "--auth-local=peer", "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        for _attempt in range(5):  # a free port may be taken between finding it and binding it
            self.port = _free_port()
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            done = self._run(
                "pg_ctl", "start", "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w",
                "-t", str(START_TIMEOUT_S), "-o", options,
            )  # fmt: skip
            if done.returncode == 0:
                self._running = True
                return self
        log = (self.root / "log").read_text() if (self.root / "log").is_file() else done.stderr
        raise RuntimeError(f"pg_ctl could not start PostgreSQL: {log.strip()[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        with self._lock:
            self._count += 1
            name = f"test_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server (immediately: it holds nothing to keep) and remove its folder."""
        if os.getpid() != self._owner:
            return
        if self._running:
            self._running = False
            self._run("pg_ctl", "stop", "-D", str(self.root / "data"), "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)


_SHARED: PostgresServer | None = None
_SHARED_LOCK = threading.Lock()


def shared_server() -> PostgresServer:
    """The test session's one server, started on first use (fails or skips as the module docstring says)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            wanted = os.environ.get("GRAPHCONV_TEST_POSTGRES", "").strip().lower()
            if wanted == "skip":
                pytest.skip("PostgreSQL tests turned off (GRAPHCONV_TEST_POSTGRES=skip)")
            missing = MISSING if find_bindir() is None else None
            try:
                import psycopg  # noqa: F401 - the tests' client; requirements.txt pins it
            except ImportError:
                missing = "psycopg is not installed: pip install -r requirements-dev.txt"
            if missing is not None:
                if os.geteuid() == 0 or wanted == "require":
                    pytest.fail(missing, pytrace=False)
                pytest.skip(missing)
            bindir = find_bindir()
            assert bindir is not None
            server = PostgresServer(bindir)
            try:
                server.start()
            except BaseException:
                server.stop()
                raise
            _SHARED = server
            atexit.register(stop_shared_server)
        return _SHARED


def stop_shared_server() -> None:
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is not None:
            with contextlib.suppress(Exception):  # at exit: nothing left to report to
                _SHARED.stop()
            _SHARED = None
