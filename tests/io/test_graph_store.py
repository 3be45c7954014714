import numpy as np

from workbench.checks.neighbors import knn_graph
from workbench.io.graph_store import graph_path, load_graph, save_graph


def test_round_trip_and_row_mapping(tmp_path):
    x = np.eye(4, dtype=np.float32)
    g = knn_graph(x, k=2)
    path = graph_path(tmp_path, "ds", "model", "prep", 2)
    save_graph(path, ["a", "b", "c", "d"], ["h1", "h2", "h3", "h4"], g)
    stored = load_graph(path)
    assert stored is not None and stored.graph.method == "exact"
    np.testing.assert_array_equal(stored.graph.indices, g.indices)
    # "b" is gone, "c" changed content, "d" moved to the front.
    mapping = stored.rows_in(["d", "a", "c"], ["h4", "h1", "other"])
    assert mapping.tolist() == [1, -1, -1, 0]


def test_other_dataset_model_or_k_get_other_files(tmp_path):
    base = graph_path(tmp_path, "ds", "m", "p", 10)
    assert len({base, graph_path(tmp_path, "ds2", "m", "p", 10), graph_path(tmp_path, "ds", "m2", "p", 10),
                graph_path(tmp_path, "ds", "m", "p", 5)}) == 4


def test_damaged_file_is_ignored(tmp_path, caplog):
    path = graph_path(tmp_path, "ds", "m", "p", 10)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip file")
    assert load_graph(path) is None
    assert "rebuilt" in caplog.text
