"""Run the web server, a Celery worker and Celery beat in the foreground; Ctrl-C stops all three."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

BIN = Path(sys.executable).parent


class Command(BaseCommand):
    help = "Start gunicorn (threaded), a Celery worker and Celery beat; stop all when one exits or on Ctrl-C."

    def handle(self, *args, **options) -> None:
        commands = {
            "web": [str(BIN / "gunicorn"), "-c", "harbor_site/gunicorn_conf.py", "harbor_site.wsgi"],
            "worker": [str(BIN / "celery"), "-A", "harbor_site", "worker", "--loglevel=INFO"],
            "beat": [str(BIN / "celery"), "-A", "harbor_site", "beat", "--loglevel=INFO"],
        }
        root = Path(settings.BASE_DIR)
        processes = {name: subprocess.Popen(cmd, cwd=root) for name, cmd in commands.items()}
        self.stdout.write(f"registry listening on http://{settings.HARBOR_BIND} (Ctrl-C stops web, worker and beat)")
        stopping = False

        def stop(signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in processes.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with {proc.returncode}; stopping the others")
                    exit_code = proc.returncode or 1
                    stopping = True
            time.sleep(0.5)
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in processes.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
        if exit_code:
            os._exit(exit_code)
