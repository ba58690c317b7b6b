"""`make demo`: start zingd with the demo company, then open the console.

The daemon runs in the background with its own data dir and socket; when the
console (or the fallback shell) exits, the daemon is stopped cleanly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import platformdirs

from zingd.rpc.client import DaemonUnreachable, SyncClient

AGENT = ("ana@demo.zing", "demo-agent")
AI_OFF = ("assistant: off. To try it, point it at any OpenAI-compatible server (llama.cpp, Ollama, vLLM, "
          "OpenAI...):\n  ZING_DEMO_AI=http://127.0.0.1:8080/v1 make demo   "
          "(optional: ZING_DEMO_AI_MODEL=name, ZING_DEMO_AI_KEY=key)")


def assistant(sock: Path) -> str:
    """Point Demo Co's assistant at ``ZING_DEMO_AI`` (the one setting), as its admin (this OS user)."""
    url = os.environ.get("ZING_DEMO_AI", "").strip()
    if not url:
        return AI_OFF
    key = os.environ.get("ZING_DEMO_AI_KEY") or None
    try:
        with SyncClient(sock, timeout=35) as c:
            c.call("assistant.update", {"base_url": url, "api_key": key})
            model = os.environ.get("ZING_DEMO_AI_MODEL") or next(iter(c.call("assistant.models")), "")
            if not model:
                return f"assistant: off: {url} lists no models; set ZING_DEMO_AI_MODEL"
            c.call("assistant.update", {"chat": {"model": model}})
    except Exception as e:  # the demo runs without it
        return f"assistant: off: {e}"
    return (f"assistant: on ({model} at {url}): the copilot is in the composer; the bot answers once an admin "
            "runs `zingctl assistant set --bot --bot-queue ID`")


def main() -> int:
    data = Path(os.environ.get("ZING_DATA_DIR") or platformdirs.user_data_dir("zing-demo"))
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/zing-demo-{os.getuid()}"
    sock = Path(os.environ.get("ZING_SOCKET") or Path(runtime) / "zing-demo" / "zingd.sock")
    log = data / "zingd.log"
    data.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ZING_SOCKET": str(sock), "ZING_DATA_DIR": str(data)}
    bindir = Path(sys.executable).parent
    with open(log, "ab") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "zingd", "--demo"], env=env, stdout=out, stderr=out,
                                  start_new_session=True)
    try:
        for _ in range(200):
            if daemon.poll() is not None:
                print(f"zingd exited ({daemon.returncode}); see {log}", file=sys.stderr)
                print(log.read_text()[-2000:], file=sys.stderr)
                return 1
            try:
                with SyncClient(sock, timeout=2) as c:
                    c.call("rpc.hello")
                break
            except (DaemonUnreachable, ConnectionError, OSError):
                time.sleep(0.05)
        print(f"zingd is running with Demo Co (socket {sock}, data {data}, log {log}).")
        print(assistant(sock))
        if importlib.util.find_spec("zingtui") is not None and sys.stdin.isatty():
            # the password through the environment, never on a command line (ps shows those)
            return subprocess.call([str(bindir / "zingtui"), "--email", AGENT[0]],
                                   env={**env, "ZING_PASSWORD": AGENT[1]})
        print("Try, in this shell:\n"
              "  zingctl status\n"
              "  zingctl sim say --from 5511999990001 \"oi, preciso de ajuda\"\n"
              "  zingctl tickets list\n"
              "  zingctl events            (live stream; Ctrl-C to stop)\n"
              "Leave the shell (exit or Ctrl-D) to stop the daemon.")
        if not sys.stdin.isatty():
            return 0
        shell = os.environ.get("SHELL") or shutil.which("bash") or "/bin/sh"
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.call([shell], env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
        print("zingd stopped.")


if __name__ == "__main__":
    sys.exit(main())
