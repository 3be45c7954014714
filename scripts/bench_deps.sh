#!/usr/bin/env bash
# Peers' extra dependencies for `make bench`, kept out of the project's own environment:
# cleanlab's Datalab needs Hugging Face `datasets` (and pyarrow, which would change how
# pandas stores strings for the whole project). They go to .venv/bench-deps, which only the
# Datalab benchmark worker puts on sys.path. Idempotent.
set -euo pipefail
VENV=${VENV:-.venv}
TARGET="$VENV/bench-deps"
if [ -d "$TARGET/datasets" ] && [ -d "$TARGET/pyarrow" ]; then
    exit 0
fi
PIP_FIND_LINKS= "$VENV/bin/python" -m pip install --quiet --no-deps --target "$TARGET" \
    "datasets==5.2.0" "multiprocess==0.70.19" "pyarrow==25.0.1" "xxhash==4.1.0"
