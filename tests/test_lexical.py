from kb.search.lexical import BM25, tokenize


def test_tokenizer_folds_accents_and_joins_inflections() -> None:
    assert tokenize("Estratégia OMNICANAL") == tokenize("estrategia omnicanais")


def test_tokenizer_keeps_numbers_and_non_ascii_words() -> None:
    assert "91%" in tokenize("cu 91% mai mult")
    assert tokenize("diferențe") == ["difer"]


def test_arabic_article_and_clitics_are_removed() -> None:
    assert tokenize("الاستراتيجية") == tokenize("استراتيجية") == tokenize("إستراتيجية")
    assert tokenize("بالقنوات") == tokenize("القنوات")
    assert tokenize("للعملاء") == tokenize("عملاء")


def test_bm25_ranks_the_passage_that_shares_rare_terms() -> None:
    index = BM25(["channels and customers", "Worten and Phone House started", "customers and channels again"])
    assert index.top("Worten", 3)[0][0] == 1
    assert index.top("nothing here", 3) == []
