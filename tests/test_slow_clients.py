"""The production set-up holds slow clients (issue 31, item 3): nginx in front of gunicorn
(deploy/nginx.conf) buffers every body, so 16 clients dripping one byte a second hold no
gunicorn thread and a caller's /voice is answered at once. On 127.0.0.1, in a few seconds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.slow_clients import caller_seconds, ivr_env, nginx, under_slow_clients
from tests.servers import gunicorn

pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx not installed (.ci/run installs Debian's)",
)


def test_sixteen_clients_sending_a_byte_a_second_do_not_delay_a_caller_through_nginx(tmp_path: Path) -> None:
    with gunicorn(ivr_env(tmp_path), workers=1, threads=4) as server, nginx(server) as proxied:
        assert caller_seconds(proxied, 1) < 1.0
        seconds, still_sending = under_slow_clients(proxied, clients=16, calls=3)
    assert still_sending == 16  # the slow bodies were still dripping: nginx held them all
    assert max(seconds) < 1.0, seconds
