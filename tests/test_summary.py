from workbench.render.summary import text_summary
from workbench.results import AuditResult, CheckStatus, EmbeddingInfo


def _result(**kw):
    base = dict(dataset_name="ds", source="/s", task="classification", n_samples=3, classes=("a",), splits=(),
                created_at="now", config={}, versions={}, checks=(CheckStatus("leakage", "skipped", "no splits"),))
    base.update(kw)
    return AuditResult.build(**base)


def test_summary_fits_a_screen_and_shows_fallback_and_skips():
    emb = EmbeddingInfo(model_id="m", backend="b", requested="auto", trained=True, dim=2, device="cpu",
                        preprocessing="p", fallback_reason="CLIP unavailable: " + "x" * 200)
    text = text_summary(_result(embedding=emb))
    lines = text.splitlines()
    assert len(lines) <= 25 and max(map(len, lines)) <= 78
    assert "FALLBACK: CLIP unavailable" in text
    assert "skipped        leakage: no splits" in text


def test_untrained_warning():
    emb = EmbeddingInfo(model_id="m", backend="b", requested="clip", trained=False, dim=2, device="cpu",
                        preprocessing="p")
    assert "untrained weights" in text_summary(_result(embedding=emb))
