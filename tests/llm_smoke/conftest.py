"""The smoke suite against a real OpenAI-compatible server: llama.cpp's, from llama-cpp-python, with
the SmolLM2-135M model (``scripts/llm-smoke-setup.sh`` installs both; ``make smoke-llm`` runs it).

The scripted server (tests/assistant/openai_fake.py) proves zing's rules; this suite proves that what
the fake answers is what a real server answers: its model list, SSE framing, tool-call and
structured-output dialects, and what a time cap does to it. The model is far too small to answer
well, so nothing here looks at the quality of a reply, only at its shape.

It is its own suite because it needs a 24 MB wheel and a 98 MB model that a plain checkout lacks
(without them every test skips, saying why) and a minute of CPU: its tests carry the ``llm_smoke``
marker and run only when ``-m`` names it (``make smoke-llm``: ``pytest -m llm_smoke tests/llm_smoke``);
``make test``, which collects all of tests/, deselects them.
The figures it measures (start-up, time per request, memory) are printed at the end of the run.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2"
START_TIMEOUT_S = 120.0  # a ceiling for a loaded CI box, not a wait: readiness is polled


def _model_path() -> Path:
    """Where the setup script put the model. Read at import, before the suite's fixtures point HOME and
    XDG_CACHE_HOME at per-test folders."""
    if os.environ.get("ZING_LLM_MODEL"):
        return Path(os.environ["ZING_LLM_MODEL"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("ZING_MODELS") or Path(cache) / "zing" / "models") / MODEL_NAME


MODEL = _model_path()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "llm_smoke: against a real llama.cpp server (run with `make smoke-llm`)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect this suite unless the run's -m expression names it (``make test`` doesn't)."""
    if "llm_smoke" in (config.getoption("markexpr") or ""):
        return
    mine = [item for item in items if item.get_closest_marker("llm_smoke")]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if not item.get_closest_marker("llm_smoke")]


@dataclass
class Figures:
    """What the run measured, printed by ``pytest_terminal_summary``."""

    startup_s: float | None = None
    rss_mb: list[tuple[str, float]] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)

    def time(self, what: str, seconds: float) -> None:
        self.timings.append((what, seconds))

    def lines(self) -> list[str]:
        out = []
        if self.startup_s is not None:
            out.append(f"server start-up (spawn to /v1/models answering): {self.startup_s:.2f} s")
        out += [f"{what}: {seconds:.2f} s" for what, seconds in self.timings]
        out += [f"server memory {when}: {mb:.0f} MB" for when, mb in self.rss_mb]
        return out


FIGURES = Figures()


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES.startup_s is None:
        return  # the server never started (skipped, or deselected by make test)
    terminalreporter.section("llm smoke: figures")
    for line in FIGURES.lines():
        terminalreporter.write_line(line)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (the peak) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


@dataclass
class Llama:
    """A running ``python -m llama_cpp.server``: ``url`` ends in /v1, like a tenant's base_url."""

    proc: subprocess.Popen
    url: str
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def memory_mb(self) -> dict[str, float]:
        return _memory_mb(self.proc.pid)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/models", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="session")
def llama(tmp_path_factory) -> Llama:
    """One server for the whole run (on a free port, one CPU thread), up when it answers /v1/models."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: run scripts/llm-smoke-setup.sh (or make smoke-llm)")
    if not MODEL.is_file():
        pytest.skip(f"no model at {MODEL}: run scripts/llm-smoke-setup.sh (or make smoke-llm)")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    # llama.cpp's defaults otherwise, as a tenant would run it: among them --interrupt_requests True,
    # which cuts a running stream short when another request arrives (test_provider proves zing sees
    # that as a failure). The suite sends one request at a time except there.
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(MODEL), "--n_threads", "1",
            "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Llama(proc, f"http://127.0.0.1:{port}/v1", log)
    try:
        while not _ready(server.url):
            if not server.alive():
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}:\n{server.log_tail()}")
            if time.monotonic() - started > START_TIMEOUT_S:
                raise TimeoutError(f"llama_cpp.server did not answer within {START_TIMEOUT_S:g} s:\n"
                                   f"{server.log_tail()}")
            time.sleep(0.05)
        FIGURES.startup_s = time.monotonic() - started
        FIGURES.rss_mb.append(("after start-up (RSS)", server.memory_mb()["VmRSS"]))
        yield server
        if server.alive():
            mem = server.memory_mb()
            FIGURES.rss_mb += [("at the end (RSS)", mem["VmRSS"]), ("peak (VmHWM)", mem["VmHWM"])]
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def figures() -> Figures:
    return FIGURES
