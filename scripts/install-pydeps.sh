#!/usr/bin/env bash
# The Python clients the tests drive rrund with, in a venv of the checkout's
# own (.cache/venv): docker-py (PyPI's `docker` 7), testcontainers-python 4
# and pytest. Does nothing when the venv already has them.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/venv
want=("docker>=7,<8" "pytest>=8,<9" "testcontainers>=4,<5")
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import docker, pytest, testcontainers' 2>/dev/null; then
    echo "install-pydeps: $venv ready"
    exit 0
fi
mkdir -p .cache
timeout 300 python3 -m venv "$venv"
timeout 600 "$venv/bin/pip" install -q "${want[@]}"
"$venv/bin/python" -c 'import docker, pytest; print("install-pydeps: docker", docker.__version__, "pytest", pytest.__version__)'
