"""Time from launching `gunicorn wsgi:app` to the first answered call (a signed POST /voice).

python bench/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PUBLIC, ROOT, TOKEN, Client, database_url
from tests.servers import free_port


def once(url: str, folder: str) -> float:
    port = free_port()
    env = {
        **os.environ,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "IVR_PUBLIC_URL": PUBLIC,
        "DATABASE_URL": url,
        "IVR_CONFIG_DIR": str(ROOT / "config"),
        "IVR_INSTANCE_DIR": folder,
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            client = Client(f"http://127.0.0.1:{port}")
            status, body = client.post("/voice", {"CallSid": "CA" + "5a" * 16, "From": "+8613800138000"})
            client.close()
            if status == 200 and "<Gather" in body:
                return time.perf_counter() - started
            if time.perf_counter() - started > 30:
                raise RuntimeError("no answer within 30 s")
            time.sleep(0.01)
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    url = database_url(Path(folder))
    times = [once(url, folder) for _ in range(args.runs)]
    print(
        f"startup: gunicorn start to first answered call: median {statistics.median(times):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
