"""The local-stack plumbing: port fallback, and `stop` never touching a process it did not start."""

import socket
import subprocess
import sys
import time

import psutil
import pytest

from statmuse_ops.infra import Started, pick_port, port_is_free, stop
from statmuse_ops.stack import Stack


def test_a_taken_port_falls_back_to_a_free_one():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert not port_is_free(taken)
        chosen = pick_port(taken)
        assert chosen != taken
        assert port_is_free(chosen)


def test_stop_leaves_alone_a_process_whose_start_time_does_not_match():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        real = psutil.Process(proc.pid).create_time()
        # Same pid, other start time: what a recycled pid looks like to `statmuse down`.
        stranger = Started("x", proc.pid, 0, "", create_time=real - 100)
        assert not stranger.is_running()
        assert stop(stranger) is False
        assert proc.poll() is None, "a process we did not start was stopped"
        ours = Started("x", proc.pid, 0, "", create_time=real)
        assert stop(ours, timeout_s=5) is True
        assert not psutil.pid_exists(proc.pid) or not ours.is_running()
    finally:
        proc.kill()


def test_stack_state_round_trips(tmp_path):
    stack = Stack(
        tmp_path,
        {"DATABASE_URL": "postgresql://x"},
        [Started("redis", 123, 6379, "redis://127.0.0.1:6379/0", time.time())],
    )
    stack.save()
    loaded = Stack.load(tmp_path)
    assert loaded is not None
    assert loaded.env == stack.env
    assert loaded.started == stack.started
    assert Stack.load(tmp_path / "nothing") is None


@pytest.mark.parametrize("name", ["postgres", "redis", "broker"])
def test_infrastructure_table_names_every_piece(name):
    from statmuse_ops.stack import INFRASTRUCTURE

    assert name in {row[1] for row in INFRASTRUCTURE}
