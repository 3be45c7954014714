import subprocess
import sys


def test_import_workbench_is_light():
    """`import workbench` must not pull in torch, open_clip, fiftyone, ipywidgets or dask (STYLE: lazy facade)."""
    code = ("import sys, workbench; heavy = [m for m in ('torch', 'open_clip', 'fiftyone', 'ipywidgets', 'plotly', "
            "'cleanlab', 'sklearn', 'dask', 'distributed') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_lazy_attributes_resolve():
    import workbench

    assert callable(workbench.load) and callable(workbench.run_audit)
    assert workbench.AuditConfig().min_class_ratio == 0.10
    try:
        workbench.does_not_exist
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:
        raise AssertionError("unknown attribute did not raise")


def test_subpackages_resolve_lazily():
    code = ("import sys, workbench; p = workbench.panels; print(callable(p.overview_panel), "
            "'ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_distributed_job_module_imports_dask_only_when_a_job_runs():
    code = ("import sys, workbench.cli, workbench.embeddings.distributed; "
            "print([m for m in ('dask', 'distributed', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_listing_embedders_and_formats_imports_no_model_and_no_detector():
    """The registries hold "module:function" paths: the CLI's choices are read without importing the code."""
    code = ("import sys; from workbench.cli import _parser; _parser(); from workbench.config import EMBEDDER_NAMES; "
            "from workbench.io.sources import FORMATS; print(len(EMBEDDER_NAMES), len(FORMATS), [m for m in ("
            "'torch', 'open_clip', 'timm', 'fiftyone', 'workbench.embeddings.backends', 'workbench.io.formats.coco', "
            "'workbench.io.importers', 'workbench.io.loading') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().split(maxsplit=2) == ["4", "13", "[]"]  # 13 formats: yolov4 since issue 12
