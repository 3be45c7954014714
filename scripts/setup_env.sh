#!/usr/bin/env bash
# Creates the virtual environment and installs workbench with its test extras.
# Idempotent: re-running it only installs what is missing. Called by `make`.
set -euo pipefail
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
# Some machines point pip's find-links at a local CPU-only torch wheel that breaks
# torchvision; pyproject's `torch>=2.14` already excludes it, and this keeps pip
# from even scanning it.
export PIP_FIND_LINKS=""
"$VENV/bin/python" -m pip install -q --upgrade pip
# [dev] includes [handoff] (label-studio-sdk, the client FiftyOne's Label Studio backend uses); the Label
# Studio server is a separate process with its own pins: the slow hand-off tests install it into
# $VENV/labelstudio-server on first use (tests/labelstudio_server.py), never into this environment.
"$VENV/bin/python" -m pip install -q -e ".[dev]"
# FiftyOne's embedded MongoDB: see workbench/_mongo.py for why and how.
"$VENV/bin/python" -m workbench._mongo --ensure
"$VENV/bin/python" -m pip check
