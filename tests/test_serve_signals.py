"""`memoryhole serve` hands SIGTERM and SIGINT to its Datasette child and waits for it: when the
command is gone, so is the server (a service manager's stop must not leave a corpus served)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from memoryhole.corpus.store import Corpus

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the child")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_serve_stops_datasette(tmp_path, signum):
    Corpus(tmp_path / "data").close()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "memoryhole.cli", "serve", "--data", str(tmp_path / "data"),
         "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    spawned: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not listening(port):
            assert process.poll() is None, process.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "Datasette did not start"
            time.sleep(0.2)
        spawned = children(process.pid)
        assert spawned
        process.send_signal(signum)     # to the command only, as `kill` or systemd would
        assert process.wait(timeout=30) == 0    # stopped as asked: a clean exit
        deadline = time.monotonic() + 15
        while (listening(port) or any(map(alive, spawned))) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not listening(port), "Datasette still serving after memoryhole serve stopped"
        assert not any(map(alive, spawned))
        assert "Traceback" not in process.stdout.read().decode(errors="replace")
    finally:
        for pid in spawned:            # never leave a server behind, even when the test fails
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
