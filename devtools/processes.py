"""Real processes for the tests that need them: redis-server, gunicorn, Celery.

They run against the test database (the tests using them are transactional, so
what they write is committed and visible across processes) and are stopped,
whatever happens, when the test ends.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# How the web app is served everywhere (the image, compose): its config module.
GUNICORN_CONFIG = ("-c", "python:syncstatus.gunicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def wait_until(condition, timeout: float, interval: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"{what} not met after {timeout}s")


def test_database_url() -> str:
    """The URL of the test database, for processes started by a test."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or 5432
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return f"postgres://{settings['USER']}{password}@{host}:{port}/{settings['NAME']}"


class Processes:
    """Starts processes, keeps their output in files, stops them all at the end."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self, name: str) -> None:
        """SIGKILL the process and its children (a Celery worker's pool), as
        the kernel's OOM killer or a lost machine would stop them."""
        process = self.running.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        # Last started first: the worker goes before the Redis it reads from.
        for name in reversed(list(self.running)):
            self.stop(name)

    def output(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def all_output(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.workdir.glob("*.log"))
        )

    def redis(self, port: int) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is not installed (.ci/run installs it)"
        self.start(
            "redis",
            [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        wait_for_port(port)

    def broker(self) -> str:
        """The Redis that REDIS_URL names, or a private one started here."""
        if os.environ.get("REDIS_URL"):
            return os.environ["REDIS_URL"]
        port = free_port()
        self.redis(port)
        return f"redis://127.0.0.1:{port}/0"

    def app_env(self, broker_url: str, **extra) -> dict:
        return {
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": broker_url,
            "SECRET_KEY": "test-processes",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on loopback, where production has a TLS proxy in front.
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "SYNC_STATUS_SWEEP_SECONDS": "1",
            "SYNC_STATUS_SWEEP_GRACE_SECONDS": "1",
            # Rate limits and failed logins counted apart from other tests'.
            "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            **extra,
        }

    def web(self, env: dict, name: str = "web") -> int:
        port = free_port()
        self.start(
            name,
            [
                sys.executable,
                "-m",
                "gunicorn",
                *GUNICORN_CONFIG,
                "syncstatus.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            env,
        )
        wait_for_port(port)
        return port

    def worker(self, env: dict, name: str = "worker", concurrency: int = 2) -> None:
        self.start(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "syncstatus",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={concurrency}",
                f"--hostname={name}@%h",
            ],
            env,
        )

    def beat(self, env: dict) -> None:
        self.start(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "syncstatus",
                "beat",
                "--loglevel=INFO",
                f"--schedule={self.workdir / 'beat-schedule'}",
            ],
            env,
        )
