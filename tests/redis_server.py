"""A real redis-server for tests: 127.0.0.1, a free port, a temporary directory, no persistence."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """redis-server in the foreground, stopped by the test (kill and start again on the same
    port to simulate a restart that forgot everything)."""

    def __init__(self, directory: Path, password: str | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.password = password
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.directory)]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


def start_worker(url: str, name: str, env: dict[str, str]) -> subprocess.Popen:
    """`memoryhole worker` in its own process (stderr to a file the test can show)."""
    log = open(env.get("WORKER_LOG_DIR", "/tmp") + f"/worker-{name}.log", "w")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "memoryhole.cli", "worker", "--redis", url,
                             "--name", name, "--address", f"198.51.100.{len(name)}"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen, sig: int | None = None) -> None:
    """Stop a process this test started (SIGTERM, or `sig`), waiting for it."""
    if process.poll() is None:
        if sig is None:
            process.terminate()
        else:
            process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
