"""``--out DIR``: the audit as a folder that only changes when the findings do, for DVC or git.

The folder holds ``findings.parquet`` and ``findings.json`` (the findings table), ``audit.json`` (the
``--json`` export), ``report.html`` and ``manifest.json`` (each file's SHA-256 and size, and the
data's fingerprint). What differs between two runs on the same data with the same settings (the time,
stage timings, cache hits) is left out of all of them, so a re-run writes the same bytes; the audit's
time and timings stay in the history record and in ``--json`` / ``--report`` outputs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.history.findings_table import COLUMNS
from workbench.history.snapshot import snapshot_of

if TYPE_CHECKING:
    from workbench.results import AuditResult

OUT_FORMAT = "workbench-out/1"
OUT_FILES = ("findings.parquet", "findings.json", "audit.json", "report.html", "manifest.json")

#: Export keys that change between runs on the same data: ``(section, key)``, section "" for the top.
_VOLATILE = (("", "timings"), ("dataset", "created_at"), ("embedding_model", "n_computed"),
             ("embedding_model", "n_cached"), ("neighbor_graph", "mode"), ("neighbor_graph", "n_reused"),
             ("neighbor_graph", "n_new"), ("neighbor_graph", "n_recomputed"), ("neighbor_graph", "seconds"))


def check_out_folder(folder: Path) -> None:
    """Refuse, before the audit, a folder that holds anything but an earlier ``--out`` folder's files.

    Raises:
        OutputPathError: a file is in the way, or the folder holds other files (which a DVC-tracked
            folder would then version too).
    """
    from workbench.io.outputs import OutputPathError

    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"--out {folder} is a file; give a folder (it is created if missing)")
    if folder.is_dir():
        others = sorted(p.name for p in folder.iterdir() if p.name not in OUT_FILES)
        if others:
            raise OutputPathError(f"--out {folder} holds other files ({', '.join(others[:5])}"
                                  f"{' ...' if len(others) > 5 else ''}); give an empty or new folder, or one an "
                                  "earlier --out wrote")


def steady_export(result: AuditResult) -> dict[str, Any]:
    """The ``--json`` export without what changes between runs on the same data."""
    from workbench.render.json_export import to_export_dict

    doc = to_export_dict(result)
    for section, key in _VOLATILE:
        holder = doc if not section else doc.get(section)
        if isinstance(holder, dict):
            holder.pop(key, None)
    return doc


def _parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import fastparquet
    import pandas as pd

    kinds = {"score": "float64", "group": "bool"}
    frame = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=kinds.get(c, object)) for c in COLUMNS})
    for c in ("files", "about"):  # lists as JSON text: every parquet reader can read them
        frame[c] = pd.Series([json.dumps(r[c], ensure_ascii=False) for r in rows], dtype=object)
    fastparquet.write(str(path), frame, object_encoding="utf8", stats=False, write_index=False)


def write_out_folder(result: AuditResult, folder: str | Path) -> dict[str, Path]:
    """Write the folder (see the module docstring); each file replaced atomically. Returns ``{name: path}``.

    Example:
        >>> paths = write_out_folder(result, "audits/v2")  # doctest: +SKIP
        >>> sorted(paths)  # doctest: +SKIP
        ['audit.json', 'findings.json', 'findings.parquet', 'manifest.json', 'report.html']
    """
    from workbench import __version__
    from workbench.io.outputs import replaced_atomically, write_text_atomic
    from workbench.render.html_report import render_html

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = snapshot_of(result)
    rows = [r.to_row() for r in snapshot.rows]
    out = {"findings.json": write_text_atomic(folder / "findings.json", json.dumps(
        snapshot.to_dict(steady=True), indent=1, allow_nan=False, ensure_ascii=False))}
    with replaced_atomically(folder / "findings.parquet") as tmp:
        _parquet(rows, tmp)
    out["findings.parquet"] = folder / "findings.parquet"
    out["audit.json"] = write_text_atomic(folder / "audit.json", json.dumps(steady_export(result), indent=1,
                                                                             allow_nan=False))
    with replaced_atomically(folder / "report.html") as tmp:
        render_html(result, tmp, steady=True)
    out["report.html"] = folder / "report.html"
    files = {name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size}
             for name, p in sorted(out.items())}
    manifest = {"format": OUT_FORMAT, "workbench": __version__, "dataset": result.dataset_name,
                "n_samples": result.n_samples, "fingerprint": dict(result.fingerprint),
                "n_findings": len(rows), "files": files}
    out["manifest.json"] = write_text_atomic(folder / "manifest.json", json.dumps(manifest, indent=1))
    return out
