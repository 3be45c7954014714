import hashlib

from tests.conftest import write_image
from workbench.io.files import inspect_file, inspect_files


def test_good_image(tmp_path):
    p = write_image(tmp_path / "a.png", 1, size=20)
    facts = inspect_file(str(p))
    assert facts.ok and (facts.width, facts.height, facts.image_format) == (20, 20, "PNG")
    assert facts.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


def test_missing_empty_truncated_and_text(tmp_path):
    good = write_image(tmp_path / "g.png", 2, size=64).read_bytes()
    (tmp_path / "trunc.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    kinds = {p: inspect_file(str(tmp_path / p)).problem_kind
             for p in ("nope.png", "empty.jpg", "trunc.png", "text.png")}
    assert kinds == {"nope.png": "missing", "empty.jpg": "empty", "trunc.png": "unreadable",
                     "text.png": "unreadable"}
    assert "restore it" in inspect_file(str(tmp_path / "nope.png")).problem


def test_inspect_files_keeps_order(tmp_path):
    paths = [str(write_image(tmp_path / f"{i}.png", i)) for i in range(5)] + [str(tmp_path / "missing.png")]
    facts = inspect_files(paths, progress=False)
    assert [f.filepath for f in facts] == paths
    assert [f.ok for f in facts] == [True] * 5 + [False]


def test_messages_are_stable_and_say_what_to_do(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    msg = inspect_file(str(tmp_path / "text.png")).problem
    assert "0x" not in msg and "re-export or remove it" in msg
