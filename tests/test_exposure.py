"""The app listens on this machine only, however it is started; the container opens it on purpose."""

import os
import socket
import subprocess
import time
import tomllib
import urllib.request

import pytest

from conftest import ROOT, VIDRAG


def test_config_binds_to_localhost_and_the_image_overrides_it():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    cmd = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD"))
    assert '"--host", "0.0.0.0"' in cmd  # inside the container; compose publishes it on 127.0.0.1


def _outside_address() -> str:
    """This machine's address on its network (no packet is sent: UDP connect only picks a route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))
        except OSError:
            pytest.skip("this machine has no network address besides loopback")
        address = s.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no network address besides loopback")
    return address


@pytest.mark.slow
def test_plain_vidrag_serve_is_not_reachable_from_the_network(tmp_path, model_env):
    """`vidrag serve` (what `make run` does) with no --host answers on 127.0.0.1, not on the
    machine's network address, from any folder (no .streamlit/config.toml there)."""
    outside = _outside_address()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **model_env, "VIDRAG_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen([VIDRAG, "serve", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                assert urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200
                break
            except OSError:
                assert time.time() < deadline, "the app did not start"
                time.sleep(0.5)
        with pytest.raises(OSError):
            socket.create_connection((outside, port), timeout=2).close()
    finally:
        server.terminate()
        server.wait(timeout=30)
