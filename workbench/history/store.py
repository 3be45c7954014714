"""Where audits are kept: one JSON snapshot per audit, in a folder per dataset.

The history folder is ``--history-dir``, else ``$WORKBENCH_HISTORY``, else ``history/`` beside the
embedding cache (``$WORKBENCH_CACHE`` or ``~/.cache/workbench``). Each dataset has a folder named
after it (plus a hash of the exact name), holding ``<run id>.json`` files: the run id is the audit's
UTC time and the start of its content fingerprint, so the files sort by time. The last
:data:`KEEP_RUNS` audits of a dataset are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.history.snapshot import AuditSnapshot, snapshot_from_dict

log = logging.getLogger(__name__)

#: Audits kept per dataset; older ones are removed when a new one is recorded.
KEEP_RUNS = 100

_RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}(-\d+)?$")


class HistoryError(WorkbenchError, ValueError):
    """A run can't be found or read."""


def history_root(directory: str | os.PathLike[str] | None = None) -> Path:
    """The history folder (see the module docstring)."""
    if directory:
        return Path(directory).expanduser()
    if os.environ.get("WORKBENCH_HISTORY"):
        return Path(os.environ["WORKBENCH_HISTORY"]).expanduser()
    from workbench.embeddings.cache import default_cache_root

    return default_cache_root().parent / "history"


def dataset_folder(root: Path, dataset: str) -> Path:
    """``root/<slug>-<hash>``: readable, and distinct for names that slug alike.

    Example:
        >>> dataset_folder(Path("/h"), "my data/v1").name
        'my-data-v1-97597d91'
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", dataset).strip("-.")[:60] or "dataset"
    return root / f"{slug}-{hashlib.sha1(dataset.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def _run_id(snapshot: AuditSnapshot, folder: Path) -> str:
    stamp = re.sub(r"[^0-9T]", "", snapshot.created_at.split("+")[0])[:15] or "00000000T000000"
    base = f"{stamp}Z-{(snapshot.fingerprint.get('content') or '0' * 8)[:8]}"
    taken = {p.stem for p in folder.glob(f"{stamp}Z-*.json")}  # audits in the same second: numbered in order
    n = len(taken) + 1
    run_id = base if n == 1 else f"{base}-{n}"
    while run_id in taken:
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def record_run(snapshot: AuditSnapshot, *, root: Path, keep: int = KEEP_RUNS) -> AuditSnapshot:
    """Store ``snapshot`` under its dataset and return it with its run id; drop runs beyond ``keep``."""
    from workbench.io.outputs import write_text_atomic

    folder = dataset_folder(root, snapshot.dataset)
    folder.mkdir(parents=True, exist_ok=True)
    stored = snapshot.with_run_id(_run_id(snapshot, folder))
    write_text_atomic(folder / f"{stored.run_id}.json", json.dumps(stored.to_dict(), indent=1, allow_nan=False))
    runs = sorted(folder.glob("*.json"), key=_order)
    for old in runs[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return stored


def _order(path: Path) -> tuple[str, int]:
    """Time, then the number given to audits in the same second."""
    parts = path.stem.split("-")
    return parts[0], int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1


def _read(path: Path) -> AuditSnapshot:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HistoryError(f"{path} can't be read: {type(exc).__name__}: {exc}") from None
    try:
        return snapshot_from_dict(doc, where=str(path))
    except ValueError as exc:
        raise HistoryError(str(exc)) from None


def list_runs(dataset: str, *, root: Path) -> list[AuditSnapshot]:
    """The stored audits of ``dataset``, oldest first; damaged records are left out with a warning."""
    folder = dataset_folder(root, dataset)
    out = []
    for path in sorted(folder.glob("*.json"), key=_order) if folder.is_dir() else []:
        try:
            out.append(_read(path))
        except HistoryError as exc:
            log.warning("history: %s; left out", exc)
    return out


def find_run(run_id: str, *, root: Path) -> AuditSnapshot:
    """The stored audit with this run id, whichever dataset it belongs to.

    Raises:
        HistoryError: no such run, or more than one dataset holds it.
    """
    hits = sorted(root.glob(f"*/{run_id}.json")) if _RUN_ID.match(run_id) and root.is_dir() else []
    if not hits:
        raise HistoryError(f"no audit {run_id!r} in the history at {root}; `workbench history DATASET` lists "
                           "the run ids of a dataset")
    if len(hits) > 1:
        raise HistoryError(f"run {run_id!r} is stored for {len(hits)} datasets ({', '.join(h.parent.name for h in hits)}); "
                           "give the file path instead")
    return _read(hits[0])


def is_run_id(text: str) -> bool:
    return bool(_RUN_ID.match(text))


def read_audit(ref: str, *, root: Path) -> AuditSnapshot:
    """An audit named by a run id, a JSON file (history record, ``--json`` export, ``AuditResult`` JSON,
    an ``--out`` folder's ``findings.json``) or an ``--out`` folder.

    Raises:
        HistoryError: the reference names nothing readable; the message says what was expected.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "findings.json").is_file():
            raise HistoryError(f"{ref} is a folder without findings.json; give an --out folder, a JSON file or a "
                               "run id")
        path = path / "findings.json"
    if path.is_file():
        return _read(path)
    if is_run_id(ref):
        return find_run(ref, root=root)
    raise HistoryError(f"{ref!r} is neither a file, an --out folder nor a run id (like 20261203T134407Z-1a2b3c4d); "
                       "`workbench history DATASET` lists run ids")
