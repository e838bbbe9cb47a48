"""The conversation the browser keeps: signed by the server, refused when anything else made it."""

from __future__ import annotations

import json
from pathlib import Path

from kb.web.chat_session import BrowserCopy, ChatSession, chat_key


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


def _long_session(turns: int, padding: int) -> ChatSession:
    """``turns`` answered questions, every third refused (no answer, no section), each answer citing a passage."""
    session = ChatSession(language="en")
    for n in range(turns):
        turn = len(session.messages) + 1
        session.show("user", f'<div class="kb-question"><p>question {n}</p></div>')
        if n % 3 == 2:
            session.show("assistant", '<div class="kb-error"><p>refused</p></div>')
            continue
        session.show("assistant", f'<div class="kb-answer"><a href="#kb-src-{turn}-1">[1]</a> answer {n}</div>')
        session.history += [
            {"role": "user", "content": f"question {n}"},
            {"role": "assistant", "content": f"answer {n}"},
        ]
        session.answers[turn] = {"question": f"question {n}", "answer": "x" * padding}
        session.sections.append(f'<section class="kb-turn" data-turn="{turn}"><article id="kb-src-{turn}-1">'
                                f'{"y" * padding}</article></section>')
        if n % 2:
            session.ratings[turn] = n
    return session


def test_a_long_conversation_is_kept_newest_first_within_the_budget(tmp_path: Path) -> None:
    """The copy had no size cap: a long enough chat hit the browser's quota (~5 MB) and was no longer saved."""
    budget = 20_000
    copies = BrowserCopy(chat_key(tmp_path), max_bytes=budget)
    session = _long_session(60, 500)
    stored = copies.save(session, pending="and then?")
    assert len(stored["data"].encode()) <= budget < len(BrowserCopy(b"k", max_bytes=10**9).save(session)["data"])
    restored, pending = copies.load(stored)
    assert restored is not None and pending == "and then?"
    kept = len(restored.messages)
    assert 0 < kept < len(session.messages) and kept % 2 == 0
    # The newest turns, whole and in order.
    cut = len(session.messages) - kept
    assert restored.messages == session.messages[cut:] and restored.trimmed == cut
    assert restored.answers == {turn - cut: a for turn, a in session.answers.items() if turn >= cut}
    assert restored.ratings == {turn - cut: r for turn, r in session.ratings.items() if turn >= cut}
    for index, answer in restored.answers.items():  # an answer still sits under its question (ratings find it)
        assert answer["question"] in restored.messages[index - 1]["content"]
    assert restored.history == session.history[-2 * len(restored.answers):]
    assert restored.sections == [s for s in session.sections if int(s.split('data-turn="')[1].split('"')[0]) >= cut]
    assert len(restored.sections) == len(restored.answers)
    # Trimmed again, it keeps counting from the conversation's start.
    restored.show("user", "<div>q</div>")
    restored.show("assistant", "<div>" + "z" * 5000 + "</div>")
    again = copies.load(copies.save(restored))[0]
    assert again is not None and again.trimmed > restored.trimmed
    assert again.trimmed + len(again.messages) == len(session.messages) + 2


def test_the_newest_turn_is_kept_whatever_its_size(tmp_path: Path) -> None:
    copies = BrowserCopy(chat_key(tmp_path), max_bytes=1_000)
    session = _long_session(4, 5_000)
    restored = copies.load(copies.save(session))[0]
    assert restored is not None and restored.messages == session.messages[-2:]
    assert list(restored.answers) == [1] and len(restored.sections) == 1


def test_the_default_budget_keeps_the_copy_well_under_the_browser_s_quota(tmp_path: Path) -> None:
    copies = BrowserCopy(chat_key(tmp_path))
    stored = copies.save(_long_session(2_000, 3_000))  # about 12 MB of conversation
    # Gradio encrypts the JSON of the copy and stores it in base64: about 4/3 of its UTF-8 bytes.
    assert len(json.dumps(stored, ensure_ascii=False).encode()) * 4 / 3 < 2_000_000
    restored = copies.load(stored)[0]
    assert restored is not None and len(restored.messages) > 100
