"""The server listens on 127.0.0.1 unless told otherwise (``KB_HOST``, ``--host``).

Each server is a real process (``python app.py`` and ``python -m kb serve``);
what it listens on is read from the kernel (``/proc/net/tcp*`` for the sockets
the process holds), not from its own log. The other addresses used are loopback
ones too (127.0.0.2, 127.0.0.3), so no test opens a port to the network.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.browser import free_port
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.server]

START_TIMEOUT = 120.0
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ipaddress.IPv4Address(raw[::-1])
        return str(ip), int(port, 16)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))  # four host-order words
    return str(ipaddress.IPv6Address(words)), int(port, 16)


def listening(pid: int) -> set[tuple[str, int]]:
    """Every (address, port) the process ``pid`` listens on, IPv4 and IPv6."""
    inodes = _socket_inodes(pid)
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                found.add(_address(fields[1]))
    return found


@contextmanager
def started(command: list[str], tmp: Path, env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    environment.update({"KB_DATA_DIR": str(tmp / "kb"), "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1",
                        "GRADIO_ANALYTICS_ENABLED": "False", **env})
    log = open(tmp / "server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, *command], cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        log.close()


def wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> set[tuple[str, int]]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        addresses = {a for a in listening(process.pid) if a[1] == port}
        if addresses:
            return addresses
        time.sleep(0.2)
    raise AssertionError(f"nothing listened on port {port} within {START_TIMEOUT:.0f}s:\n{log.read_text()}")


def non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent for a UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if ipaddress.ip_address(address).is_loopback else address


def connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_servers_listen_on_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    """Two real servers at once (they start in parallel): ``python app.py`` as is, and ``kb serve`` with KB_HOST."""
    cases = {
        "default": (["app.py"], {}, "127.0.0.1"),
        "env": (["-m", "kb", "serve"], {"KB_HOST": "127.0.0.2"}, "127.0.0.2"),
    }
    with ExitStack() as stack:
        running = {}
        for name, (command, env, expected) in cases.items():
            port = free_port()
            folder = tmp_path / name
            folder.mkdir()
            process = stack.enter_context(started(command, folder, {"KB_PORT": str(port), **env}))
            running[name] = (process, port, folder / "server.log", expected)
        for name, (process, port, log, expected) in running.items():
            assert wait_listening(process, port, log) == {(expected, port)}, name
            assert connects(expected, port), name
        default_port = running["default"][1]
        assert not connects("127.0.0.2", default_port)
        address = non_loopback_address()
        if address is not None:
            assert not connects(address, default_port), f"the default server answers on {address}"


def test_host_flag_wins_over_kb_host(monkeypatch: pytest.MonkeyPatch) -> None:
    import kb.web.server
    from kb import cli
    from kb.settings import Settings

    served: list[Settings] = []
    monkeypatch.setattr(kb.web.server, "serve", lambda settings, on_ready=None: served.append(settings))
    monkeypatch.setenv("KB_HOST", "127.0.0.2")
    assert cli.main(["serve", "--host", "127.0.0.3", "--port", "8123"]) == 0
    assert cli.main(["serve"]) == 0
    monkeypatch.delenv("KB_HOST")
    assert cli.main(["serve"]) == 0
    assert [(s.host, s.port) for s in served] == [("127.0.0.3", 8123), ("127.0.0.2", 7860), ("127.0.0.1", 7860)]
