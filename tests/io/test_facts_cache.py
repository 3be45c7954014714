import os

from tests.conftest import write_image
from workbench.io.facts_cache import FactsCache
from workbench.io.files import inspect_files


def test_unchanged_files_are_not_read_again(tmp_path, monkeypatch):
    paths = [str(write_image(tmp_path / f"{i}.png", i)) for i in range(4)]
    db = tmp_path / "cache" / "files.sqlite"
    first = inspect_files(paths, progress=False, cache_path=db)
    read = []
    import workbench.io.files as files

    real = files.inspect_file
    monkeypatch.setattr(files, "inspect_file", lambda p, measures=None: read.append(p) or real(p, measures))
    # One file changes content (new size/mtime); one is new.
    write_image(tmp_path / "1.png", 99, size=48)
    paths.append(str(write_image(tmp_path / "new.png", 7)))
    second = inspect_files(paths, progress=False, cache_path=db)
    assert sorted(read) == sorted([paths[1], paths[4]])
    assert second[0] == first[0] and second[2:4] == first[2:4]
    assert second[1].sha256 != first[1].sha256 and second[1].width == 48


def test_missing_files_are_never_cached_and_bad_database_is_set_aside(tmp_path):
    db = tmp_path / "files.sqlite"
    missing = str(tmp_path / "gone.png")
    assert inspect_files([missing], progress=False, cache_path=db)[0].problem_kind == "missing"
    assert FactsCache(db).lookup([missing]) == {}
    db.write_bytes(b"garbage, not sqlite" * 100)
    good = str(write_image(tmp_path / "a.png", 1))
    facts = inspect_files([good], progress=False, cache_path=db)
    assert facts[0].ok and (tmp_path / "files.damaged").exists()
    assert os.path.exists(good)
