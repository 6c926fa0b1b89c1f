"""A Redis server as a child process (redis-server, installed with apt where it can be), for
`make up` and the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import redis

from deploy.certificates import Certificates
from deploy.processes import LOCALHOST, ManagedProcess, free_port


def ensure_redis_server() -> str:
    """The path of `redis-server`, installed with apt when running as root on Debian."""
    path = shutil.which("redis-server")
    if path is None and os.geteuid() == 0 and Path("/etc/debian_version").exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "redis-server"], check=True, env=env)
        path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(
            "redis-server not found: install it (Debian/Ubuntu: sudo apt-get install -y "
            "redis-server; macOS: brew install redis)"
        )
    return path


class RedisServer(ManagedProcess):
    """A Redis server bound to `host`, with an append-only file in `data_dir` (so a restart
    keeps the data) and no RDB snapshots. With `tls`, its port speaks TLS only (with that
    certificate; clients need none of their own)."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        host: str = LOCALHOST,
        executable: str | None = None,
        password: str = "",
        tls: Certificates | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        #: With a password, clients must AUTH (``requirepass``), as a shared Redis requires.
        self.password = password
        self.tls = tls
        port_flags = ["--port", str(self.port)]
        if tls is not None:
            port_flags = [
                "--port", "0", "--tls-port", str(self.port),
                "--tls-cert-file", str(tls.cert), "--tls-key-file", str(tls.key),
                "--tls-ca-cert-file", str(tls.ca), "--tls-auth-clients", "no",
            ]  # fmt: skip
        super().__init__(
            "redis",
            [
                executable or ensure_redis_server(),
                *port_flags,
                "--bind", host,
                "--dir", str(self.data_dir),
                "--save", "",
                "--appendonly", "yes",
                "--daemonize", "no",
                *(["--requirepass", password] if password else []),
            ],
            log_path=self.data_dir / "redis.log",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}"

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def _probe(self) -> None:
        # PING fails with a LOADING error while the append-only file is replayed.
        with redis.Redis(
            self.host,
            self.port,
            password=self.password or None,
            ssl=self.tls is not None,
            ssl_ca_certs=str(self.tls.ca) if self.tls else None,
            socket_timeout=1,
            socket_connect_timeout=1,
        ) as r:
            r.ping()
