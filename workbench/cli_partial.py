"""What ``workbench resplit`` and ``workbench select`` share: output paths checked first, a check's options
read before any work, and an audit that runs only the checks the command needs."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

#: The audit options ``resplit`` and ``select`` do not offer, at the audit's defaults.
PARTIAL_AUDIT_DEFAULTS = dict(annotator_file=[], annotators="", batch_size=64, device=None, precision="auto",
                              runtime="auto")


def source_root(args: argparse.Namespace) -> Path | None:
    """The dataset folder (outputs may not go inside it), or ``None`` for a FiftyOne dataset named."""
    source = Path(args.source).expanduser()
    return (source.resolve() if source.is_dir() else source.resolve().parent) if source.exists() else None


def checked_outputs(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Path]:
    """``{"--report": path, ...}`` for the output options given, each checked before any work."""
    from workbench.io.outputs import check_output_path

    from workbench.io.outputs import refuse_same_file

    root = source_root(args)
    outputs = {f"--{n}": check_output_path(getattr(args, n), what=f"--{n}", dataset_root=root)
               for n in names if getattr(args, n, None)}
    refuse_same_file(outputs)
    return outputs


def read_options(check: str, values: dict[str, Any], error: type[WorkbenchError], *,
                 renames: dict[str, str] = {}) -> dict[str, Any]:
    """``values`` checked against the check's options (raises ``error`` with the option's message, its option
    names ``renames``-d to the command's flags)."""
    from workbench.checks.registry import get_check, make_options

    try:
        make_options(get_check(check), values)
    except WorkbenchError as exc:
        text = str(exc).replace(f"{check}: ", "")
        for old, new in renames.items():
            text = text.replace(old, new)
        raise error(text) from None
    return values


def add_model_options(parser: argparse.ArgumentParser, *, allow_none: bool) -> None:
    """The embedding model options of ``resplit`` and ``select`` (the audit's names and defaults)."""
    from workbench.embeddings.registry import embedder_names

    names = [n for n in embedder_names() if allow_none or n != "none"]
    parser.add_argument("--embedder", default="auto", choices=names,
                        help="model for the embeddings" + (" (none: exact copies and perceptual hashes only)"
                                                           if allow_none else ""))
    parser.add_argument("--clip-model", default="ViT-B-32")
    parser.add_argument("--clip-pretrained", default="laion2b_s34b_b79k",
                        help="open_clip pretrained tag; 'none' for untrained weights (tests only)")
    parser.add_argument("--clip-checkpoint", help="local open_clip checkpoint file")
    parser.add_argument("--cache-dir", help="embedding cache folder (default $WORKBENCH_CACHE or ~/.cache/workbench)")


def scalar_fields(dataset: Any) -> dict[str, str]:
    """The user's text, number and boolean sample fields (not workbench's): ``{name: kind}``."""
    kinds = {"StringField": "text", "IntField": "number", "FloatField": "number", "BooleanField": "boolean"}
    own = set(dataset.info.get("workbench", {}).get("resplit_fields", []))
    return {n: kinds[type(f).__name__] for n, f in dataset.get_field_schema().items()
            if type(f).__name__ in kinds and not n.startswith("wb_") and n not in own and n not in ("id", "filepath")}


@contextlib.contextmanager
def partial_audit(args: argparse.Namespace, checks: tuple[str, ...], options: dict[str, dict[str, Any]],
                  precheck: Any = None) -> Iterator[tuple[Any, Any]]:
    """Load the source and run ``checks`` only, under the audit's lock, library output sent to stderr;
    yields ``(dataset, result)`` with the lock held, for the command to write its outputs. ``precheck(dataset)``
    runs once the dataset is loaded, before the audit's work: a command's own input errors come first."""
    from workbench.checks.registry import check_names
    from workbench.cli import _embedder_config, _load_and_audit, _ToStderr
    from workbench.config import AuditConfig
    from workbench.io.locks import audit_lock

    cfg = AuditConfig(embedder=_embedder_config(args), near_duplicate_threshold=args.near_threshold,
                      allow_outside_root=args.allow_outside_root, check_options=options,
                      skip_checks=tuple(n for n in check_names() if n not in checks),
                      skip_reason=f"not part of workbench {args.command} (run workbench audit for it)")
    source = Path(args.source).expanduser()
    key = args.name or (str(source.resolve()) if source.exists() else str(args.source))
    with audit_lock(key, args.cache_dir), contextlib.redirect_stdout(_ToStderr()):
        yield _load_and_audit(args, cfg, precheck)


def finding_or_error(result: Any, check: str, error: type[WorkbenchError], *, renames: dict[str, str] = {}) -> Any:
    """The check's result; its option error as ``error`` (exit 2), a skip as ``error`` with the reason, a crash
    as ``RuntimeError`` (exit 3)."""
    found = result.findings.get(check)
    if found is not None:
        return found
    status = result.check(check)
    reason = status.reason if status else "the check did not run"
    if reason.startswith("CheckConfigError: ") or (status is not None and status.state == "skipped"):
        text = reason.removeprefix("CheckConfigError: ").replace(f"{check}: ", "")
        for old, new in renames.items():
            text = text.replace(old, new)
        raise error(text)
    raise RuntimeError(f"the {check} check did not run: {reason}")
