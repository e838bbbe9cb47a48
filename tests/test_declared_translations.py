"""Translations a blog declares (Hugo's file names and translationKey, Polyglot's
page_id, hreflang links) are recorded whatever their length; a declaration
that names no document, or two in one language, is logged and left."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.index.embed import get_embedder
from kb.index.store import Store
from kb.ingest.declared import declared_pairs, read_declaration
from kb.ingest.load import parse
from kb.ingest.pipeline import ingest
from kb.models import Declaration, Document
from kb.search.retrieve import CorpusIndex
from kb.settings import Settings
from tests.test_ingest import CountingEmbedder

NATA_PT = """---
title: Pastéis de nata em casa
---

Durante anos tentei fazer pastéis de nata em casa e o resultado era sempre o mesmo: massa mole, creme a
ferver por cima e nenhuma daquelas manchas queimadas que fazem os pastéis de Belém tão bonitos. Depois de
umas vinte fornadas, e de uma família que nunca se queixou, cheguei a esta receita, a melhor que já saiu do
meu forno.

## O forno

O segredo é o forno no máximo, a 280 graus, com o tabuleiro na prateleira de cima, e a massa folhada bem
fria até ao último momento. Os pastéis ficam no forno doze minutos, até o creme ganhar manchas escuras e a
massa estalar nas bordas; comem-se mornos, com canela e açúcar em pó por cima.
"""

NATA_EN = """---
title: Pastéis de nata at home
---

For years I tried to make pastéis de nata at home and the result was always the same: soggy pastry, custard
boiling over and none of those burnt spots that make the Belém tarts so beautiful. After some twenty
batches, and a family that never once complained, I arrived at this recipe, the best that ever came out of
my oven.

## The oven

The secret is the oven at its hottest, 280 degrees, with the tray on the top shelf, and the puff pastry
well chilled until the very last moment. The tarts stay in the oven for twelve minutes, until the custard
gets dark spots and the pastry crackles at the edges; they are eaten warm, with cinnamon and icing sugar.
"""

DUCK_PT = """---
title: Arroz de pato
translationKey: duck-rice
lang: pt
---

O arroz de pato leva pato cozido, chouriço e arroz de forno. Coze-se o pato com o chouriço; o caldo coze o arroz.
"""

DUCK_EN = """---
title: Duck rice
TranslationKey: duck-rice
lang: en
---

Duck rice takes boiled duck, chouriço and oven rice. The duck is boiled with the chouriço and the broth cooks the rice.
"""

LONELY = """---
title: Bifanas
translationKey: bifanas
---

A bifana é uma sandes de porco marinado em vinho branco e alho, servida quente em pão de trigo.
"""


def _page(lang: str, title: str, text: str, own: str, alternates: dict[str, str]) -> str:
    links = "".join(f'<link rel="alternate" hreflang="{code}" href="{href}">\n' for code, href in alternates.items())
    return f"""<!doctype html><html lang="{lang}"><head><title>{title} – Panela</title>
<link rel="canonical" href="{own}">
{links}</head><body><article><h1>{title}</h1><p>{text}</p></article></body></html>"""


SALT_COD_PT = _page(
    "pt-PT",
    "Bacalhau: como demolhar",
    "O bacalhau demolha-se em água fria durante 24 a 48 horas, no frigorífico, mudando a água três vezes por dia.",
    "https://panela.example/bacalhau/",
    {
        "pt-PT": "https://panela.example/bacalhau/",
        "en": "https://panela.example/en/salt-cod/",
        "es": "https://panela.example/es/bacalao/",  # not saved: left, with a log line
        "x-default": "https://panela.example/bacalhau/",
    },
)
SALT_COD_EN = _page(
    "en",
    "Salt cod: how to soak it",
    "Salt cod is soaked in cold water for 24 to 48 hours, in the fridge, changing the water three times a day.",
    "https://panela.example/en/salt-cod",  # without the closing "/" the Portuguese page's link has
    {"pt-PT": "/bacalhau/", "en": "https://panela.example/en/salt-cod/"},
)

# -- reading what a file declares ---------------------------------------------------------------------


def test_hugo_file_names_and_language_folders_name_a_translation() -> None:
    assert read_declaration("posts/nata.pt.md", "", None) == Declaration(("path:posts/nata.md",))
    assert read_declaration("posts/nata.md", "", None) == Declaration(("path:posts/nata.md",))
    assert read_declaration("posts/nata.pt-br.md", "", None) == Declaration(("path:posts/nata.md",))
    assert read_declaration("posts/release.v2.md", "", None) == Declaration(("path:posts/release.v2.md",))
    assert "path:*/posts/nata/index.md" in read_declaration("en/posts/nata/index.md", "", None).keys
    assert "path:*/posts/nata/index.md" in read_declaration("pt/posts/nata/index.md", "", None).keys


def test_front_matter_names_a_translation_by_a_shared_key() -> None:
    assert read_declaration("a.md", DUCK_EN, None) == Declaration(("path:a.md", "key:duck-rice"))
    polyglot = "---\ntitle: Acerca de\npermalink: /acerca-de\nlang: es\npage_id: about\n---\nSomos nosotros.\n"
    assert read_declaration("acerca.md", polyglot, None) == Declaration(("path:acerca.md", "key:about"))


def test_a_saved_page_names_its_translations_by_hreflang() -> None:
    declared = read_declaration("en.html", SALT_COD_EN, "https://panela.example/en/salt-cod")
    # Its own address is no translation of it; a relative link is read against its own address.
    assert declared == Declaration(("path:en.html",), (("pt", "https://panela.example/bacalhau/"),))
    page = read_declaration("pt.html", SALT_COD_PT, "https://panela.example/bacalhau/")
    assert [code for code, _ in page.alternates] == ["en", "es"]  # not x-default, not itself


def _doc(source: str, language: str, declared: Declaration, url: str | None = None) -> Document:
    return Document(source, source, language, "text", "h", url=url, declared=declared)


def test_a_set_of_translations_points_to_its_first_and_never_pairs_one_language(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = ("key:nata",)
    documents = [
        _doc("nata-es.md", "es", Declaration(key)),
        _doc("nata-en.md", "en", Declaration(key)),
        _doc("nata-pt.md", "pt", Declaration(key)),
        _doc("copy.md", "pt", Declaration(("key:copy",))),
        _doc("copy-2.md", "pt", Declaration(("key:copy",))),
        _doc("alone.md", "pt", Declaration(("key:alone",))),
    ]
    with caplog.at_level(logging.INFO, logger="kb.ingest.declared"):
        assert declared_pairs(documents) == {"nata-es.md": "nata-en.md", "nata-pt.md": "nata-en.md"}
    assert "copy-2.md and copy.md are declared translations, but both are in pt: not recorded" in caplog.text
    assert "alone.md: no other document has its translation key 'alone'" in caplog.text


# -- recorded in the index -----------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def blog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, int, list[str]]]:
    folder = tmp_path_factory.mktemp("panela")
    (folder / "posts").mkdir()
    (folder / "saved").mkdir()
    (folder / "posts" / "nata.pt.md").write_text(NATA_PT, encoding="utf-8")
    (folder / "posts" / "nata.en.md").write_text(NATA_EN, encoding="utf-8")
    (folder / "posts" / "duck.md").write_text(DUCK_PT, encoding="utf-8")
    (folder / "posts" / "pato.md").write_text(DUCK_EN, encoding="utf-8")
    (folder / "posts" / "bifanas.md").write_text(LONELY, encoding="utf-8")
    (folder / "saved" / "bacalhau.html").write_text(SALT_COD_PT, encoding="utf-8")
    (folder / "saved" / "salt-cod.html").write_text(SALT_COD_EN, encoding="utf-8")
    settings = Settings(data_dir=folder.parent / f"{folder.name}-kb")
    store = Store(settings)
    records, logger = _Records(), logging.getLogger("kb")
    level = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    try:
        report = ingest(folder, settings, store, get_embedder(settings))
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    yield store, report.generation, records.lines


def _links(store: Store, generation: int) -> dict[str, str | None]:
    return {d.source: d.translation_of for d in store.documents(generation)}


def test_a_hugo_pair_of_two_passages_each_is_a_translation(blog: tuple[Store, int, list[str]]) -> None:
    """Two passages a side never line up beyond chance: only the file names tell."""
    store, generation, _ = blog
    chunks, _ = store.all_chunks(generation)
    assert [c.source for c in chunks].count("posts/nata.pt.md") == 2
    assert [c.source for c in chunks].count("posts/nata.en.md") == 2
    assert _links(store, generation)["posts/nata.pt.md"] == "posts/nata.en.md"  # the later points to the earlier


def test_posts_that_share_a_translation_key_are_a_translation(blog: tuple[Store, int, list[str]]) -> None:
    store, generation, _ = blog
    assert _links(store, generation)["posts/pato.md"] == "posts/duck.md"


def test_a_saved_page_s_hreflang_link_to_another_saved_page_is_a_translation(
    blog: tuple[Store, int, list[str]],
) -> None:
    store, generation, _ = blog
    assert _links(store, generation)["saved/salt-cod.html"] == "saved/bacalhau.html"


def test_a_declaration_that_names_no_document_is_left_with_a_log_line(blog: tuple[Store, int, list[str]]) -> None:
    store, generation, lines = blog
    links = _links(store, generation)
    assert links["posts/bifanas.md"] is None and links["saved/bacalhau.html"] is None
    assert len([s for s, link in links.items() if link]) == 3
    assert "posts/bifanas.md: no other document has its translation key 'bifanas'" in lines
    assert any("(hreflang es) https://panela.example/es/bacalao/ is not among the documents" in line for line in lines)


def test_a_short_declared_pair_is_aligned_passage_by_passage(blog: tuple[Store, int, list[str]]) -> None:
    store, generation, _ = blog
    index = CorpusIndex.build(store, generation)
    assert index.translations["posts/nata.en.md"] == "posts/nata.pt.md"
    for source, other in (("posts/nata.pt.md", "posts/nata.en.md"), ("posts/nata.en.md", "posts/nata.pt.md")):
        assert [index.twins[row] for row in index.by_source[source]] == list(index.by_source[other])
    for source, other in (("saved/bacalhau.html", "saved/salt-cod.html"), ("posts/duck.md", "posts/pato.md")):
        assert [index.twins[row] for row in index.by_source[source]] == list(index.by_source[other])


def test_a_declaration_is_taken_up_and_taken_back_without_embedding_again(tmp_path: Path) -> None:
    folder = tmp_path / "blog"
    folder.mkdir()
    (folder / "duck.md").write_text(DUCK_PT, encoding="utf-8")
    (folder / "pato.md").write_text(DUCK_EN, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "kb")
    store, embedder = Store(settings), CountingEmbedder(get_embedder(settings))
    first = ingest(folder, settings, store, embedder)  # type: ignore[arg-type]
    assert _links(store, first.generation) == {"duck.md": None, "pato.md": "duck.md"}
    embedded = embedder.embedded

    # An index built before declarations were read: the next ingest records them, embedding nothing.
    store.set_translation(first.generation, "pato.md", None)
    second = ingest(folder, settings, store, embedder)  # type: ignore[arg-type]
    assert second.generation != first.generation and not second.changed
    assert _links(store, second.generation) == {"duck.md": None, "pato.md": "duck.md"}
    assert ingest(folder, settings, store, embedder).generation == second.generation  # type: ignore[arg-type]

    # The key taken out of the earlier post (the later one, unchanged, is carried over): no pair.
    (folder / "duck.md").write_text(DUCK_PT.replace("translationKey: duck-rice\n", ""), encoding="utf-8")
    third = ingest(folder, settings, store, embedder)  # type: ignore[arg-type]
    assert third.updated == ("duck.md",) and third.unchanged == ("pato.md",)
    assert _links(store, third.generation) == {"duck.md": None, "pato.md": None}
    assert embedder.embedded - embedded == 1


def test_a_pair_declared_in_one_language_is_not_recorded() -> None:
    """post.md and post.pt.md, both in Portuguese (a translation not yet written)."""
    pt = parse("post.pt.md", DUCK_PT.replace("translationKey: duck-rice\n", "").encode())
    copy = parse("post.md", LONELY.replace("translationKey: bifanas\n", "").encode())
    assert pt.language == copy.language == "pt"
    assert declared_pairs([pt, copy]) == {}
