"""What one chat tab remembers, and the copy of it the browser keeps (``gr.BrowserState``).

The browser keeps the conversation so that a reload, or a server restart, does not
lose it. The copy comes back from the browser, so the server signs it (HMAC with a
key kept in the data dir) and accepts only what it signed itself: the chat still
shows only HTML the server rendered, and ratings point only at rows it wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kb.i18n.lookup import ui_language

log = logging.getLogger(__name__)

KEY_FILE = "chat-key"
STORAGE_KEY = "omnikb-chat"
VERSION = 1
# The most the browser's copy may weigh (its UTF-8 bytes): Gradio stores it encrypted, in base64
# (about 1.5 MB of text), well under the ~5 MB localStorage gives a site. A longer conversation
# keeps its newest turns (a hundred or so answers).
MAX_COPY_BYTES = 1_000_000
SECTION_TURN = re.compile(r'data-turn="(\d+)"')


@dataclass
class ChatSession:
    """The messages shown, raw turns for follow-ups, answers for feedback, the sources panel's sections."""

    messages: list[dict[str, str]] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)
    language: str | None = None
    traditional: bool = False  # Chinese labels in Traditional characters (the reader's browser or question)
    ratings: dict[int, int] = field(default_factory=dict)  # an answer's turn → its row in the feedback store
    # The browser's copy was read into this tab's session (or set aside by a new conversation): the
    # page's load, landing late, must not put back the copy as it was before. Not kept in the copy.
    settled: bool = False
    # Messages dropped from the front of the browser's copy (``BrowserCopy.save``): turns are
    # numbered from the conversation's start in the [n] markers' links, so a new answer's never
    # repeat a kept one's, while ``answers`` and ``ratings`` are keyed by position in ``messages``.
    trimmed: int = 0
    # The example questions this tab shows, in their order (a click names one by its number). Not kept in the copy.
    examples: list[str] = field(default_factory=list)

    @property
    def ui_language(self) -> str | None:
        """The language of the page's labels: the conversation's, in the reader's Chinese script."""
        return ui_language(self.language, self.traditional)

    def adopt(self, other: ChatSession) -> None:
        """Take ``other``'s conversation in place: every event of the tab holds this one object."""
        for item in fields(self):
            setattr(self, item.name, getattr(other, item.name))

    def since(self, cut: int) -> ChatSession:
        """The conversation from message ``cut`` on (a question's): what the browser keeps of a long one."""
        answers = {turn - cut: answer for turn, answer in self.answers.items() if turn >= cut}
        first = self.trimmed + cut
        return ChatSession(
            messages=self.messages[cut:],
            # One question and its answer for each answer given, in order.
            history=self.history[len(self.history) - 2 * len(answers) :],
            answers=answers,
            sections=[s for s in self.sections if _turn_of(s) >= first],
            language=self.language,
            traditional=self.traditional,
            ratings={turn - cut: row for turn, row in self.ratings.items() if turn >= cut},
            trimmed=first,
        )

    def show(self, role: str, content: str, replace_last: bool = False) -> None:
        if replace_last:
            self.messages[-1] = {"role": role, "content": content}
        else:
            self.messages.append({"role": role, "content": content})


def _turn_of(section: str) -> int:
    """The turn a sources panel's section belongs to (``web_render.sources_section``)."""
    match = SECTION_TURN.search(section)
    return int(match.group(1)) if match else -1


def chat_key(data_dir: Path) -> bytes:
    """The data dir's signing key, made on first use (servers sharing the file restore each other's copies)."""
    path = data_dir / KEY_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key.encode()
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32))
            return path.read_text(encoding="ascii").strip().encode()
    except OSError as exc:
        log.warning("cannot keep the chat key in %s (%s): conversations will not survive a restart", path, exc)
    return secrets.token_hex(32).encode()


class BrowserCopy:
    """Signs a session for the browser to keep, and reads one back."""

    def __init__(self, key: bytes, max_bytes: int = MAX_COPY_BYTES) -> None:
        self.key = key
        self.max_bytes = max_bytes

    @property
    def secret(self) -> str:
        """What ``gr.BrowserState`` encrypts with: stable across restarts, and not the signing key."""
        return hmac.new(self.key, b"browser-state", hashlib.sha256).hexdigest()[:32]

    def _sign(self, data: str) -> str:
        return hmac.new(self.key, data.encode(), hashlib.sha256).hexdigest()

    def save(self, session: ChatSession, pending: str = "") -> dict[str, Any]:
        """The browser's copy; ``pending`` is a question still being answered, given back to the box on restore.

        At most ``max_bytes``: a longer conversation keeps its newest turns (the newest whatever its size).
        """
        data = _encoded(session)
        if len(data.encode()) > self.max_bytes:
            data = _encoded(self._newest(session))
        return {"v": VERSION, "data": data, "sig": self._sign(data), "pending": pending}

    def _newest(self, session: ChatSession) -> ChatSession:
        """The most of the conversation's end that fits in ``max_bytes``, cut before a question."""
        starts = [i for i, message in enumerate(session.messages) if message.get("role") == "user"] or [0]
        low, high = 0, len(starts) - 1
        while low < high:  # the first cut that fits; the last question always stays
            middle = (low + high) // 2
            if len(_encoded(session.since(starts[middle])).encode()) <= self.max_bytes:
                high = middle
            else:
                low = middle + 1
        kept = session.since(starts[low])
        log.info("the browser keeps the newest %d of %d messages", len(kept.messages), len(session.messages))
        return kept

    def load(self, stored: Any) -> tuple[ChatSession | None, str]:
        """The session a copy holds (None unless this server signed it) and the question it was answering."""
        if not isinstance(stored, dict):
            return None, ""
        pending = stored.get("pending")
        pending = pending if isinstance(pending, str) else ""
        data, sig = stored.get("data"), stored.get("sig")
        if stored.get("v") != VERSION or not isinstance(data, str) or not isinstance(sig, str):
            return None, pending
        if not hmac.compare_digest(sig, self._sign(data)):
            log.info("ignored a conversation kept by the browser: not signed with this server's key")
            return None, pending
        state = json.loads(data)
        session = ChatSession(
            messages=state["messages"],
            history=state["history"],
            answers={int(turn): answer for turn, answer in state["answers"].items()},
            sections=state["sections"],
            language=state["language"],
            traditional=bool(state.get("traditional")),
            ratings={int(turn): int(row) for turn, row in state["ratings"].items()},
            trimmed=int(state.get("trimmed", 0)),
        )
        return session, pending


def _encoded(session: ChatSession) -> str:
    state = {
        "messages": session.messages,
        "history": session.history,
        "answers": {str(turn): answer for turn, answer in session.answers.items()},
        "sections": session.sections,
        "language": session.language,
        "traditional": session.traditional,
        "ratings": {str(turn): row for turn, row in session.ratings.items()},
        "trimmed": session.trimmed,
    }
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"))
