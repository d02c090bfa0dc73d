"""JupyterLab on 127.0.0.1 and headless Chromium for the `lab` tests (`make lab`).

Everything the server reads or writes lives in one temporary directory: the notebooks
(a copy of the chapter), Jupyter's config, data and runtime dirs, JupyterLab's user
settings and workspaces, IPython's profile. Nothing comes from or goes to the user's
home, and the book's own chapter file is never touched.

- The kernel is the Python running these tests (``.venv`` under ``make lab``): a
  ``python3`` kernelspec (the name the chapters store) in the temporary data dir runs
  ``sys.executable``, and comes first on Jupyter's path (JUPYTER_PREFER_ENV_PATH=0).
- News, update checks and the extension manager's registry stay local
  (``news_url=None``, ``NeverCheckForUpdate``, ``extension_manager=readonly``); the
  app-level settings (``overrides.json`` in a temporary ``app_settings_dir``) turn the
  news prompt off, and its ``page_config.json`` the build check (node, slow, useless
  here). Chromium resolves no names but 127.0.0.1; the test blocks and records any
  request leaving 127.0.0.1.
- The server is stopped by its PID (SIGTERM: it shuts its kernels down), and its log
  is attached to any failure (`Lab.log_tail`).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Where failing tests leave a screenshot of the page (printed in the failure).
SHOTS = ROOT / "_build" / "lab-screenshots"

# Settings every plugin starts from (JupyterLab's app-level overrides.json): no news
# prompt, no update check, every cell in the DOM (no windowing), and typed code arrives
# as typed (no auto-closed brackets).
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension:tracker": {
        "windowingMode": "none",
        "codeCellConfig": {"autoClosingBrackets": False},
    },
    "@jupyterlab/extensionmanager-extension:plugin": {"enabled": False},
}

SERVER_START_TIMEOUT = 90  # seconds


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab: its URL, notebook dir, PID and log."""

    def __init__(self, base, root_dir):
        self.base = Path(base)
        self.root_dir = Path(root_dir)
        self.log_path = self.base / "server.log"
        self.port = None
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            return f"(no server log: {err})"
        # (long lines cut: node prints minified JavaScript with its errors)
        tail = [line[:300] for line in text.splitlines()[-lines:]]
        return f"last {len(tail)} lines of {self.log_path}:\n" + "\n".join(tail)

    def _env(self):
        dirs = {
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "user-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython",
            "MPLCONFIGDIR": "matplotlib",
        }
        env = dict(os.environ)
        for name, sub in dirs.items():
            path = self.base / sub
            path.mkdir(parents=True, exist_ok=True)
            env[name] = str(path)
        env.pop("JUPYTER_PATH", None)
        env.pop("JUPYTER_CONFIG_PATH", None)
        env["PYTHONUNBUFFERED"] = "1"
        # The temporary data dir first (with its kernelspec), before the environment's.
        env["JUPYTER_PREFER_ENV_PATH"] = "0"
        # The kernel: this very interpreter, under the kernel name the chapters store.
        spec = self.base / "data" / "kernels" / "python3"
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [
                        sys.executable,
                        "-m",
                        "ipykernel_launcher",
                        "-f",
                        "{connection_file}",
                    ],
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                    "metadata": {"debugger": True},
                }
            ),
            encoding="utf-8",
        )
        return env

    def start(self):
        env = self._env()
        settings = self.base / "app-settings"
        settings.mkdir(exist_ok=True)
        (settings / "overrides.json").write_text(json.dumps(OVERRIDES), "utf-8")
        # No "is the build up to date" check (it runs node, slowly, for nothing here).
        (settings / "page_config.json").write_text(
            json.dumps({"buildCheck": False, "buildAvailable": False}), "utf-8"
        )
        self.port = _free_port()
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--LabApp.app_settings_dir={settings}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        with open(self.log_path, "wb") as log:  # the server keeps its own copy
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.root_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.proc.returncode} before "
                    f"answering on {self.url}\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(
            f"JupyterLab did not answer on {self.url} within "
            f"{SERVER_START_TIMEOUT} s\n{self.log_tail()}"
        )

    def stop(self):
        """SIGTERM to the server's PID (it shuts its kernels down), SIGKILL if stuck."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    """The temporary base directory; its `notebooks/` is the server's root_dir."""
    base = tmp_path_factory.mktemp("lab")
    (base / "notebooks").mkdir()
    return base


@pytest.fixture(scope="module")
def lab(lab_dir):
    """A JupyterLab server serving `lab_dir/notebooks` (copy notebooks there first)."""
    server = Lab(lab_dir, lab_dir / "notebooks")
    server.start()
    yield server
    server.stop()
