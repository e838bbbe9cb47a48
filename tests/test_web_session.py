"""The conversation the browser keeps: signed by the server, refused when anything else made it."""

from __future__ import annotations

from pathlib import Path

from kb.web_session import BrowserCopy, ChatSession, chat_key


def _session() -> ChatSession:
    session = ChatSession(language="zh", traditional=True)
    session.show("user", '<div class="kb-question">什麼是全通路？</div>')
    session.show("assistant", '<div class="kb-answer">…[1]</div>')
    session.history = [{"role": "user", "content": "什麼是全通路？"}, {"role": "assistant", "content": "…[1]"}]
    session.answers = {1: {"question": "什麼是全通路？", "language": "zh"}}
    session.sections = ['<section class="kb-turn" data-turn="1"></section>']
    session.ratings = {1: 7}
    return session


def test_a_copy_comes_back_whole_with_the_question_under_way(tmp_path: Path) -> None:
    copies = BrowserCopy(chat_key(tmp_path))
    restored, pending = copies.load(copies.save(_session(), pending="然後呢？"))
    assert restored == _session() and pending == "然後呢？"
    assert restored is not None and restored.ui_language == "zh-Hant"


def test_the_key_survives_a_restart_and_is_the_data_dir_s_own(tmp_path: Path) -> None:
    stored = BrowserCopy(chat_key(tmp_path / "a")).save(_session())
    assert BrowserCopy(chat_key(tmp_path / "a")).load(stored)[0] == _session()  # a restarted server
    assert BrowserCopy(chat_key(tmp_path / "b")).load(stored)[0] is None  # another server's copy
    assert (tmp_path / "a" / "chat-key").stat().st_mode & 0o777 == 0o600


def test_a_copy_changed_in_the_browser_is_refused_but_its_question_kept(tmp_path: Path) -> None:
    copies = BrowserCopy(chat_key(tmp_path))
    stored = copies.save(_session(), pending="again?")
    forged = dict(stored, data=stored["data"].replace("kb-answer", "kb-answer kb-forged"))
    assert copies.load(forged) == (None, "again?")
    for junk in (None, "x", [], {"v": 1}, {"v": 1, "data": "{}", "sig": 3}):
        assert copies.load(junk) == (None, "")
