"""The command line, run as a user runs it: a real process, real index."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.settings import Settings
from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.server  # the CLI as a subprocess


def kb(
    *args: str, data_dir: Path, stdin: str | None = None, timeout: int = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kb", *args],
        cwd=ROOT,
        env={**os.environ, "KB_DATA_DIR": str(data_dir), "ANONYMIZED_TELEMETRY": "False", **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_ask_json_prints_the_contract_object(seeded_settings: Settings) -> None:
    result = kb("ask", "--json", "¿Qué es una estrategia multicanal?", data_dir=seeded_settings.data_dir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["language"] == "es" and data["answered"] is True and data["mode"] == "extractive"
    assert data["citations"] and data["citations"][0]["id"] == 1
    assert "[1]" in data["answer"]


def test_ask_prints_the_answer_and_its_sources(seeded_settings: Settings) -> None:
    result = kb("ask", "How do I become omnichannel?", data_dir=seeded_settings.data_dir)
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "Sources:" in result.stdout
    assert ".txt" in result.stdout.split("Sources:")[1]


def test_show_prints_exactly_the_cleaned_document(seeded_settings: Settings) -> None:
    answer = json.loads(kb("ask", "--json", "Worten", data_dir=seeded_settings.data_dir).stdout)
    cited = answer["passages"][0]
    shown = kb("show", cited["source"], data_dir=seeded_settings.data_dir)
    assert shown.returncode == 0
    assert shown.stdout[cited["start"] : cited["end"]] == cited["text"]
    as_json = json.loads(kb("show", cited["source"], "--json", data_dir=seeded_settings.data_dir).stdout)
    assert as_json["text"] == shown.stdout and set(as_json) == {"source", "title", "language", "text", "url"}


def test_chat_remembers_the_conversation(seeded_settings: Settings) -> None:
    result = kb(
        "chat", data_dir=seeded_settings.data_dir, stdin="What is an omnichannel strategy?\nAnd its challenges?\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Sources:") == 2
    # Piped, the second answer is set apart from the first one's sources by a blank line.
    second = result.stdout.index("Here is what the sources say:", result.stdout.index("Sources:"))
    assert result.stdout[second - 2 : second] == "\n\n"


def test_chat_says_it_is_loading_skips_empty_lines_and_ends_on_quit_or_eof(seeded_settings: Settings) -> None:
    """It showed nothing while loading, and a stray Enter (an empty line) ended the conversation."""
    questions = "\nWhat is an omnichannel strategy?\n\n   \nAnd its challenges?\n/quit\nWhat is multichannel?\n"
    result = kb("chat", data_dir=seeded_settings.data_dir, stdin=questions)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Sources:") == 2  # both questions, none after /quit
    assert result.stderr.splitlines()[0].startswith("Loading the knowledge base")
    assert "Loading" not in result.stdout
    ended = kb("chat", data_dir=seeded_settings.data_dir, stdin="What is an omnichannel strategy?\n\n")
    assert ended.returncode == 0 and ended.stdout.count("Sources:") == 1  # the end of input (Ctrl-D) ends it


def test_the_server_says_its_address_once_when_ready_and_logs_it_at_info(tmp_path: Path) -> None:
    """It logged its address at WARNING, and printed nothing of its own."""
    from tests.browser import free_port, request

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KB_DATA_DIR": str(tmp_path / "kb"), "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(tmp_path / "stderr", "wb") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "kb", "-v", "serve", "--port", str(port)], cwd=ROOT, env=env, stderr=err
        )
    try:
        lines: list[str] = []
        for _ in range(1200):  # at most 2 minutes to start
            lines = (tmp_path / "stderr").read_text(errors="replace").splitlines()
            if f"omnikb on {url} (API docs at {url}/docs)" in lines or server.poll() is not None:
                break
            time.sleep(0.1)
        assert f"omnikb on {url} (API docs at {url}/docs)" in lines, lines
        status, _, _ = request(url + "/api/health")  # said when it answers (503: no index yet)
        assert status == 503
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    lines = (tmp_path / "stderr").read_text(errors="replace").splitlines()
    said = [line for line in lines if url in line]
    address = f"omnikb on {url} (API docs at {url}/docs)"
    assert said == [f"INFO kb.web.server: {address}", address]  # the log record at -v, and the console line


def test_chat_with_bad_options_stops_before_the_first_question(seeded_settings: Settings) -> None:
    for options in (["--top-k", "50"], ["--language", "english"]):
        result = kb("chat", *options, data_dir=seeded_settings.data_dir, stdin="What is omnichannel?\n")
        assert result.returncode == 2, options
        assert result.stderr.count("error: ") == 1 and result.stdout == "", options


def test_bad_questions_exit_non_zero_with_one_line(seeded_settings: Settings) -> None:
    for question in ("", "   ", "x" * 2001):
        result = kb("ask", question, data_dir=seeded_settings.data_dir)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        assert "Traceback" not in result.stderr


def test_a_missing_index_says_what_to_run(tmp_path: Path) -> None:
    result = kb("ask", "What is omnichannel?", data_dir=tmp_path / "nothing")
    assert result.returncode == 3
    assert "python ingest.py" in result.stderr and "Traceback" not in result.stderr
    assert f"No index yet in the data dir {tmp_path / 'nothing'}: run" in result.stderr  # where it looked
    shown = kb("show", "000_9473cab8017bbeac.txt", data_dir=tmp_path / "nothing")
    assert shown.returncode == 3
    listed = kb("sources", data_dir=tmp_path / "nothing")
    assert listed.returncode == 3 and "python ingest.py" in listed.stderr
    assert not (tmp_path / "nothing").exists()  # reading leaves no empty index behind


def test_json_output_is_the_error_object_on_every_error(seeded_settings: Settings, tmp_path: Path) -> None:
    """`kb ask --json` printed nothing on stdout on an error, where `kb health --json` printed the error object."""
    cases = [
        (("ask", "--json", "   "), seeded_settings.data_dir, 2, "invalid_request"),
        (("ask", "--json", "What?", "--history", "[oops"), seeded_settings.data_dir, 2, "invalid_request"),
        (("ask", "--json", "What is omnichannel?"), tmp_path / "nothing", 3, "index_missing"),
        (("show", "--json", "nothing.txt"), seeded_settings.data_dir, 4, "not_found"),
        (("health", "--json"), tmp_path / "nothing", 3, "index_missing"),
    ]
    for args, data_dir, exit_code, code in cases:
        result = kb(*args, data_dir=data_dir)
        assert result.returncode == exit_code, (args, result.stderr)
        error = json.loads(result.stdout)["error"]
        assert error["code"] == code and error["message"], args
        assert result.stderr == f"error: {error['message']}\n", args  # the same one line as without --json


def test_an_unknown_source_is_a_clear_error(seeded_settings: Settings) -> None:
    result = kb("show", "../../etc/passwd", data_dir=seeded_settings.data_dir)
    assert result.returncode == 4 and "No source named" in result.stderr


def test_bad_files_in_the_folder_are_skipped_and_the_index_kept(tmp_path: Path) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    data = tmp_path / "data"
    first = subprocess.run(
        [sys.executable, "ingest.py", str(folder), "--quiet"],
        cwd=ROOT,
        env={**os.environ, "KB_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    assert "5 added" in first.stderr
    (folder / "broken.txt").write_bytes(b"\x00\x01\x02garbage\xff")  # NUL bytes, no BOM: binary
    (folder / "latin1.md").write_bytes("Canais de comunicação".encode("latin-1"))
    second = kb("ingest", str(folder), "--quiet", data_dir=data)
    # The rest is indexed, and the exit status says that two articles are not.
    assert second.returncode == 5, second.stderr
    assert "skipped broken.txt" in second.stderr and "skipped latin1.md" in second.stderr
    assert "5 unchanged" in second.stderr
    assert second.stderr.rstrip().endswith(
        "error: 2 files could not be read (listed above); mend them and run the ingest again."
    )
    # A folder that is not there is a bad argument (exit 2, as for any), and the index still answers.
    missing = kb("ingest", str(tmp_path / "nope"), data_dir=data)
    assert missing.returncode == 2 and "Folder not found" in missing.stderr
    assert kb("ask", "--json", "What is omnichannel?", data_dir=data).returncode == 0


def test_an_indexed_article_whose_file_turns_unreadable_keeps_its_indexed_version(tmp_path: Path) -> None:
    """Saving an article in another encoding, or emptying it by mistake, used
    to take it out of the index at the next ingest ("1 removed"), so questions
    it answered were refused; and the ingest exited 0."""
    folder, data = tmp_path / "seeds", tmp_path / "data"
    shutil.copytree(SEEDS, folder)
    assert kb("ingest", str(folder), "--quiet", data_dir=data).returncode == 0
    romanian = next(folder.glob("003_*.txt"))
    question = "Cu cât mai mulți clienți păstrează companiile cu o strategie omnichannel?"
    before = json.loads(kb("ask", "--json", question, data_dir=data).stdout)
    assert any(c["source"] == romanian.name for c in before["citations"])
    romanian.write_bytes(romanian.read_bytes() + "Café".encode("latin-1"))
    (folder / "new.txt").write_bytes(b"")  # a new broken file has nothing to keep
    again = kb("ingest", str(folder), "--quiet", data_dir=data)
    assert again.returncode == 5, again.stderr
    assert f"skipped {romanian.name}: not UTF-8" in again.stderr and "its indexed version is kept" in again.stderr
    assert "skipped new.txt: the file is empty\n" in again.stderr
    assert again.stderr.count(f"skipped {romanian.name}") == 1  # once, with what became of it
    assert "5 unchanged, 0 removed, 2 skipped" in again.stderr
    after = json.loads(kb("ask", "--json", question, data_dir=data).stdout)
    assert after == {**before, "timings_ms": after["timings_ms"]}
    # Mended, it is read again; deleted, it leaves.
    shutil.copy(SEEDS / romanian.name, romanian)
    (folder / "new.txt").unlink()
    mended = kb("ingest", str(folder), "--quiet", data_dir=data)
    assert mended.returncode == 0 and "5 unchanged" in mended.stderr, mended.stderr
    romanian.unlink()
    gone = kb("ingest", str(folder), "--quiet", data_dir=data)
    assert gone.returncode == 0 and "1 removed" in gone.stderr, gone.stderr


def test_ingest_without_a_folder_reads_the_folder_of_the_last_ingest(tmp_path: Path) -> None:
    """Every "no index" message says `python ingest.py`. A blog owner who had
    indexed their own folder and ran it lost every post to the bundled seeds,
    with only "9 removed" to tell."""
    blog, other, data = tmp_path / "blog", tmp_path / "other", tmp_path / "data"
    blog.mkdir()
    other.mkdir()
    (blog / "post.md").write_text(
        "# Sourdough at home\n\nFeed the starter twice a day, with equal weights of flour and water.\n",
        encoding="utf-8",
    )
    (other / "note.md").write_text("# Notes\n\nA different article about bicycles and their gears.\n", encoding="utf-8")
    env = {**os.environ, "KB_DATA_DIR": str(data), "KB_SEEDS_DIR": str(SEEDS), "ANONYMIZED_TELEMETRY": "False"}

    def ingest(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "ingest.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )

    assert ingest(str(blog), "--quiet").returncode == 0
    again = ingest()
    assert again.returncode == 0, again.stderr
    assert f"Ingesting {blog}" in again.stderr and "1 unchanged, 0 removed" in again.stderr
    sources = kb("sources", data_dir=data)
    assert "post.md" in sources.stdout and "001_" not in sources.stdout
    # Another folder, named: it replaces the index, and the summary says what went.
    switched = ingest(str(other), "--quiet")
    assert switched.returncode == 0, switched.stderr
    assert f"The index held {blog}: what is not in {other} was removed." in switched.stderr
    # A remembered folder that is gone falls back to KB_SEEDS_DIR.
    shutil.rmtree(other)
    seeds = ingest()
    assert seeds.returncode == 0 and f"Ingesting {SEEDS}" in seeds.stderr and "5 added" in seeds.stderr


def test_a_short_question_is_answered_in_the_terminal_s_language(seeded_settings: Settings) -> None:
    env = {"LANG": "ro_RO.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    answer = kb("ask", "--json", "Worten?", data_dir=seeded_settings.data_dir, env=env)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["language"] == "ro"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_one_line_not_a_traceback(seeded_settings: Settings) -> None:
    """`kb ask … > /dev/full` (a full disk) printed an OSError traceback."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "kb", "ask", "What is omnichannel?"],
            cwd=ROOT,
            env={**os.environ, "KB_DATA_DIR": str(seeded_settings.data_dir), "ANONYMIZED_TELEMETRY": "False"},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr == "error: cannot write the output: No space left on device\n"


def test_a_reader_that_goes_away_stops_the_answer_quietly(seeded_settings: Settings) -> None:
    """`kb ask … | head -1` printed a BrokenPipeError traceback and exited 1."""
    for args in (("ask", "What is omnichannel?"), ("ask", "--json", "What is omnichannel?")):
        process = subprocess.Popen(
            [sys.executable, "-m", "kb", *args],
            cwd=ROOT,
            env={**os.environ, "KB_DATA_DIR": str(seeded_settings.data_dir), "ANONYMIZED_TELEMETRY": "False"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        process.stdout.close()  # as `head` does once it has its lines, before the answer is written
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 141, stderr.decode()
        assert stderr.decode() == "", args


ARTICLE = (
    "Click and collect in small shops\n\nA shop that lets its customers order online and collect in store sells more.\n"
)


def test_verbose_ingest_reports_each_skipped_file_once_with_its_reason(tmp_path: Path) -> None:
    """``kb -v ingest`` listed each skipped file twice: as a log line of the loader and in the report."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a-post.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "b-copy.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "empty.md").write_bytes(b"")
    (folder / "latin1.md").write_bytes("Canais de comunicação".encode("latin-1"))
    (folder / "photo.png").write_bytes(b"\x89PNG")
    result = kb("-v", "ingest", str(folder), "--quiet", data_dir=tmp_path / "data")
    assert result.returncode == 5, result.stderr
    reasons = {
        "b-copy.txt": "same text as a-post.txt",
        "empty.md": "the file is empty",
        "latin1.md": "not UTF-8",
        "photo.png": "not one of .txt",
    }
    for name, reason in reasons.items():
        lines = [line for line in result.stderr.splitlines() if name in line]
        assert len(lines) == 1 and reason in lines[0], (name, result.stderr)
    assert "1 added" in result.stderr and "4 skipped" in result.stderr


def test_ingest_shows_a_reading_bar_and_says_a_skipped_file_before_the_embedding(tmp_path: Path) -> None:
    """On a blog of 400 posts, `kb ingest` said nothing for 30 to 60 s while it read the files,
    and listed the drafts and repeats it left out only at the end."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a-post.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "b-draft.md").write_text("---\ndraft: true\n---\n# Later\n\nNot published yet.\n", encoding="utf-8")
    (folder / "c-copy.txt").write_text(ARTICLE, encoding="utf-8")
    result = kb("ingest", str(folder), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert re.search(r"reading: 100%.*\b3/3\b", result.stderr), result.stderr
    for line in ("skipped b-draft.md: a draft", "skipped c-copy.txt: same text as a-post.txt"):
        assert result.stderr.count(line) == 1, result.stderr  # said once, when found
        assert result.stderr.index(line) < result.stderr.index("embedding"), result.stderr
    assert "Indexed 1 passage: 1 added, 0 updated, 0 unchanged, 0 removed, 2 skipped" in result.stderr
    quiet = kb("ingest", str(folder), "--quiet", data_dir=tmp_path / "data")
    assert quiet.returncode == 0 and "reading" not in quiet.stderr, quiet.stderr
    assert quiet.stderr.splitlines()[:2] == [
        "skipped b-draft.md: a draft (draft: true in its front matter)",
        "skipped c-copy.txt: same text as a-post.txt",
    ]


def test_a_re_ingest_says_each_step_that_shows_no_bar(tmp_path: Path) -> None:
    """On a blog of 400 posts, a re-ingest said nothing for about 9 s while it carried the
    unchanged articles over, and for about 7 s after the embedding bar while it calibrated."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a-post.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "b-post.txt").write_text(ARTICLE.replace("sells more", "keeps its customers"), encoding="utf-8")
    assert kb("ingest", str(folder), "--quiet", data_dir=tmp_path / "data").returncode == 0
    (folder / "b-post.txt").write_text(ARTICLE.replace("sells more", "sees them again"), encoding="utf-8")
    result = kb("ingest", str(folder), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    carrying = result.stderr.index("carrying over 1 unchanged article…")
    finishing = result.stderr.index("linking translations and calibrating answerability…")
    summary = result.stderr.index("1 updated, 1 unchanged")
    assert carrying < result.stderr.index("embedding") < finishing < summary, result.stderr
    (folder / "b-post.txt").write_text(ARTICLE.replace("sells more", "sells less"), encoding="utf-8")
    quiet = kb("ingest", str(folder), "--quiet", data_dir=tmp_path / "data")
    assert quiet.returncode == 0 and "carrying" not in quiet.stderr and "calibrating" not in quiet.stderr, quiet.stderr


def test_a_name_with_control_characters_is_shown_escaped_and_kb_show_takes_it_so(tmp_path: Path) -> None:
    """A file named with a line break in it split the ingest's lines, and `kb show` could not
    find it by the name `kb sources` printed ("news\\nletter.txt")."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "news\nletter.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "tab\there.txt").write_text("Returns\n\nReturning an online order to a shop is what people want.\n")
    (folder / "red\n\x1b[31m.md").write_bytes(b"")
    data = tmp_path / "data"
    ingested = kb("ingest", str(folder), "--quiet", data_dir=data)
    assert ingested.returncode == 0, ingested.stderr
    assert ingested.stderr.splitlines()[0] == "skipped red\\n\\x1b[31m.md: the file is empty"
    assert "\x1b" not in ingested.stderr and "2 added" in ingested.stderr
    listed = kb("sources", data_dir=data)
    assert listed.returncode == 0, listed.stderr
    shown = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert shown == ["news\\nletter.txt", "tab\\there.txt"]
    for name, raw in zip(shown, ("news\nletter.txt", "tab\there.txt"), strict=True):
        by_shown, by_raw = kb("show", name, data_dir=data), kb("show", raw, data_dir=data)
        assert by_shown.returncode == by_raw.returncode == 0, by_shown.stderr
        assert by_shown.stdout == by_raw.stdout == (folder / raw).read_text(encoding="utf-8").strip()
    as_json = json.loads(kb("show", "news\\nletter.txt", "--json", data_dir=data).stdout)
    assert as_json["source"] == "news\nletter.txt"  # the JSON names the file as it is
    answer = kb("ask", "Can customers order online and collect in store?", data_dir=data)
    assert answer.returncode == 0 and "— news\\nletter.txt (en," in answer.stdout, answer.stdout
    missing = kb("show", "nothing\\nhere.txt", data_dir=data)
    assert missing.returncode == 4 and missing.stderr.count("\n") == 1 and "No source named" in missing.stderr
