"""A real PostgreSQL (Debian's ``postgresql`` package) for tests: a fresh cluster in a temporary folder,
listening on 127.0.0.1 only, with a password-protected role; stopped and removed afterwards."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from local_servers import free_port

ROLE, PASSWORD, DATABASE = "tradingbot", "pg-secret-Passw0rd", "books"


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class Postgres:
    """One throwaway cluster; ``url`` carries the role's password."""

    def __init__(self, bin_dir: Path) -> None:
        # its own folder, not pytest's (root-only, so Debian's postgres user could not reach it)
        workdir = Path(tempfile.mkdtemp(prefix="tradingbot-postgres-"))
        self.workdir = workdir
        self.bin = bin_dir
        self.data = workdir / "data"
        self.socket = workdir / "socket"
        self.port = free_port()
        self.url = f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"
        self._as_postgres = os.geteuid() == 0  # initdb refuses root: run the server as Debian's postgres user
        self._process: subprocess.Popen[bytes] | None = None
        for folder in (workdir, self.socket):
            folder.mkdir(parents=True, exist_ok=True)
            if self._as_postgres:
                shutil.chown(folder, "postgres", "postgres")

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self._as_postgres else list(args)

    def start(self) -> None:
        password_file = self.socket.parent / "password"
        password_file.write_text(PASSWORD)
        if self._as_postgres:
            shutil.chown(password_file, "postgres", "postgres")
        subprocess.run(
            self._command(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                ROLE,
                "--pwfile",
                str(password_file),
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        password_file.unlink()
        self._process = subprocess.Popen(
            self._command(
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.socket),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=on",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while (
            subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            ).returncode
            != 0
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start within 60 s")
            time.sleep(0.2)
        subprocess.run(
            self._command(
                str(self.bin / "createdb"), "-h", str(self.socket), "-p", str(self.port), "-U", ROLE, DATABASE
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()  # smart shutdown
            self._process.wait(60)
            self._process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
