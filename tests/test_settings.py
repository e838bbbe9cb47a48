"""Settings are checked once, when they are built: a bad ``KB_*`` value (or flag) is one line
naming the variable and what it accepts, exit 2, before any model is loaded or index opened."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb import settings as settings_module
from kb.errors import ConfigError
from kb.settings import Settings
from tests.conftest import ROOT

LLM = {"KB_LLM_BASE_URL": "http://127.0.0.1:9/v1", "KB_LLM_MODEL": "some-model"}


def run(command: list[str], data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A front door as a user starts it, with only the given ``KB_*`` variables."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    environment.update({"KB_DATA_DIR": str(data_dir), "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", **env})
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def assert_refused(result: subprocess.CompletedProcess[str], data_dir: Path, *words: str) -> None:
    """Exit 2, one line on stderr with ``words``, and nothing was started: no index folder.
    Standard output is empty, or with ``--json`` the contract's error object saying the same."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    if "--json" in result.args:
        error = json.loads(result.stdout)["error"]
        assert error["code"] == "bad_config" and lines[0] == f"error: {error['message']}", result.stdout
    else:
        assert result.stdout == ""
    assert not data_dir.exists()


# -- seconds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("KB_LLM_TIMEOUT", "inf"),
        ("KB_LLM_TIMEOUT", "1e12"),
        ("KB_LLM_TIMEOUT", "nan"),
        ("KB_LLM_TIMEOUT", "-1"),
        ("KB_LLM_TIMEOUT", "0"),
        ("KB_LLM_CONNECT_TIMEOUT", "nan"),
        ("KB_LLM_CONNECT_TIMEOUT", "0"),
        ("KB_LLM_CONDENSE_TIMEOUT", "nan"),
        ("KB_LLM_CONDENSE_TIMEOUT", "inf"),
        ("KB_REQUEST_TIMEOUT", "-5"),
        ("KB_REQUEST_TIMEOUT", "inf"),
        ("KB_REQUEST_TIMEOUT", "nan"),
        ("KB_SEND_TIMEOUT", "-1"),
        ("KB_SEND_TIMEOUT", "86401"),
    ],
)
def test_seconds_must_be_finite_positive_and_at_most_a_day(variable: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{variable} must be .*at most 86400 \(a day\), got "):
        Settings.from_env({variable: raw})


def test_zero_turns_the_slow_client_timeouts_off_and_a_day_is_allowed() -> None:
    settings = Settings.from_env({"KB_REQUEST_TIMEOUT": "0", "KB_SEND_TIMEOUT": "0", "KB_LLM_TIMEOUT": "86400"})
    assert (settings.request_timeout, settings.send_timeout, settings.llm_timeout) == (0.0, 0.0, 86400.0)
    with pytest.raises(ConfigError, match=r"^KB_REQUEST_TIMEOUT must be 0 \(off\) or"):
        Settings.from_env({"KB_REQUEST_TIMEOUT": "-5"})


def test_the_model_server_timeouts_are_settings() -> None:
    settings = Settings.from_env({**LLM, "KB_LLM_CONNECT_TIMEOUT": "2", "KB_LLM_CONDENSE_TIMEOUT": "0.5"})
    assert (settings.llm_connect_timeout, settings.llm_condense_timeout) == (2.0, 0.5)


# -- whole numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "raw", "accepts"),
    [
        ("KB_PORT", "99999", "from 1 to 65535"),
        ("KB_PORT", "-1", "from 1 to 65535"),
        ("KB_PORT", "0", "from 1 to 65535"),
        ("KB_TOP_K", "0", "from 1 to 20"),
        ("KB_TOP_K", "50", "from 1 to 20"),
        ("KB_TOP_K", "-3", "from 1 to 20"),
        ("KB_RATE_LIMIT", "-1", "0 (no limit)"),
        ("KB_MAX_FILE_BYTES", "0", "1 or more"),
        ("KB_MAX_QUESTION_CHARS", "0", "1 or more"),
        ("KB_MAX_HISTORY_TURNS", "0", "1 or more"),
        ("KB_CHUNK_MAX_CHARS", "0", "1 or more"),
        ("KB_CHUNK_MIN_CHARS", "600", "from 0 to KB_CHUNK_MAX_CHARS (550)"),
    ],
)
def test_numbers_out_of_their_range_are_refused(variable: str, raw: str, accepts: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{variable}\b") as refused:
        Settings.from_env({variable: raw})
    assert accepts in str(refused.value) and str(refused.value).endswith(f"got {raw}")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KB_TOP_K": "2.5"}, "KB_TOP_K must be a whole number from 1 to 20, got '2.5'"),
        (
            {"KB_MAX_QUESTION_CHARS": "1e3"},
            "KB_MAX_QUESTION_CHARS must be a whole number of characters, 1 or more, got '1e3'",
        ),
        ({"KB_PORT": "0x10"}, "KB_PORT (or --port) must be a port number from 1 to 65535, got '0x10'"),
        ({"KB_RATE_LIMIT": "ten"}, "KB_RATE_LIMIT must be 0 (no limit) or a whole number of questions a minute"),
        (
            {"KB_CHUNK_MAX_CHARS": "400", "KB_CHUNK_MIN_CHARS": "1/2"},
            "KB_CHUNK_MIN_CHARS must be a whole number of characters from 0 to KB_CHUNK_MAX_CHARS (400), got '1/2'",
        ),
        (
            {"KB_LLM_TIMEOUT": "30s"},
            "KB_LLM_TIMEOUT must be a number of seconds above 0 and at most 86400 (a day), got '30s'",
        ),
    ],
)
def test_a_number_that_is_not_one_the_setting_takes_names_what_it_takes(env: dict[str, str], message: str) -> None:
    """Whole-number settings given "2.5", "1e3" or "0x10" (numbers all) said "must be a number",
    without its range, and KB_PORT's line left out "(or --port)"."""
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert str(refused.value).startswith(message), str(refused.value)


def test_rate_limit_zero_is_no_limit() -> None:
    assert Settings.from_env({"KB_RATE_LIMIT": "0"}).rate_limit == 0


def test_a_flag_is_checked_like_its_variable() -> None:
    with pytest.raises(ConfigError, match=r"^KB_PORT \(or --port\) must be a port number from 1 to 65535, got 70000"):
        Settings.from_env({}).replace(port=70000)


# -- settings that need each other -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KB_LLM_BASE_URL": "http://127.0.0.1:9/v1"}, "KB_LLM_BASE_URL is set but KB_LLM_MODEL is not"),
        ({"KB_LLM_MODEL": "some-model"}, "KB_LLM_MODEL is set but KB_LLM_BASE_URL is not"),
        ({"KB_LLM_API_KEY": "s3cret"}, "KB_LLM_API_KEY is set but KB_LLM_BASE_URL and KB_LLM_MODEL are not"),
        ({"KB_CHROMA_TOKEN": "abc"}, "KB_CHROMA_TOKEN is set but KB_CHROMA_URL is not"),
    ],
)
def test_half_a_configuration_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        Settings.from_env(env)


def test_a_whole_configuration_is_accepted() -> None:
    settings = Settings.from_env({**LLM, "KB_LLM_API_KEY": "s3cret"})
    assert settings.llm_enabled
    assert Settings.from_env({"KB_CHROMA_URL": "https://chroma.example.com", "KB_CHROMA_TOKEN": "t0k"}).chroma_token


# -- URLs and header values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "not-a-url",
        "ftp://127.0.0.1:9/v1",
        "127.0.0.1:9/v1",
        "http://",
        "http://host:abc/v1",
        "http://host:99999/v1",
        "http://host:9/v1?x=1",
        " http://host:9/v1",
    ],
)
def test_the_model_server_url_must_be_http(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^KB_LLM_BASE_URL must look like http\(s\)://host\[:port\]\[/path\]"):
        Settings.from_env({**LLM, "KB_LLM_BASE_URL": url})


@pytest.mark.parametrize("url", ["http://127.0.0.1:11434/v1", "https://api.example.com/v1", "http://[::1]:8000/v1"])
def test_model_server_urls_with_a_path_are_accepted(url: str) -> None:
    assert Settings.from_env({**LLM, "KB_LLM_BASE_URL": url}).llm_base_url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000/chroma", "without a path"),
        ("http://127.0.0.1:abc", "with a port from 1 to 65535"),
        ("http://127.0.0.1:99999", "with a port from 1 to 65535"),
        ("127.0.0.1:8000", "must look like http(s)://host[:port]"),
        ("ftp://127.0.0.1:8000", "must look like http(s)://host[:port]"),
    ],
)
def test_the_chroma_url_must_be_a_server_root(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^KB_CHROMA_URL \(or --chroma-url\) must ") as refused:
        Settings.from_env({"KB_CHROMA_URL": url})
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({**LLM, "KB_LLM_API_KEY": "clé"}, "KB_LLM_API_KEY"),
        ({"KB_CHROMA_URL": "http://127.0.0.1:8000", "KB_CHROMA_TOKEN": "sécret"}, "KB_CHROMA_TOKEN"),
        ({"KB_CHROMA_URL": "http://127.0.0.1:8000", "KB_CHROMA_TOKEN": "abc\n"}, "KB_CHROMA_TOKEN"),
    ],
)
def test_a_secret_that_cannot_go_in_a_header_is_refused_without_showing_it(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} must be printable ASCII: it is sent in the ") as refused:
        Settings.from_env(env)
    assert env[variable].strip() not in str(refused.value)


# -- unknown variables -----------------------------------------------------------------------------


def test_an_unknown_variable_is_a_warning_naming_the_closest_setting_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings_module, "_warned", set())
    env = {"KB_LLM_MODLE": "some-model", "KB_CHROMA_ULR": "http://127.0.0.1:8000", "KB_SOMETHING_ELSE": "1"}
    with caplog.at_level(logging.WARNING, logger="kb.settings"):
        Settings.from_env(env)
        Settings.from_env(env)  # a long-running server that builds its settings again says it once
    assert [r.getMessage() for r in caplog.records] == [
        "KB_CHROMA_ULR is not an omnikb setting and is ignored; did you mean KB_CHROMA_URL?",
        "KB_LLM_MODLE is not an omnikb setting and is ignored; did you mean KB_LLM_MODEL?",
        "KB_SOMETHING_ELSE is not an omnikb setting and is ignored",
    ]


def test_known_variables_are_no_warning(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="kb.settings"):
        Settings.from_env({**LLM, "KB_LLM_CONNECT_TIMEOUT": "2", "KB_LLM_CONDENSE_TIMEOUT": "3", "KB_PORT": "8080"})
    assert caplog.records == []


# -- the front doors (subprocesses) ---------------------------------------------------------------


@pytest.mark.server
@pytest.mark.parametrize(
    ("command", "env", "words"),
    [
        (["-m", "kb", "ask", "What is omnichannel?"], {**LLM, "KB_LLM_TIMEOUT": "inf"}, ["KB_LLM_TIMEOUT", "got inf"]),
        (
            ["-m", "kb", "ask", "What is omnichannel?"],
            {**LLM, "KB_LLM_CONDENSE_TIMEOUT": "nan"},
            ["KB_LLM_CONDENSE_TIMEOUT", "got nan"],
        ),
        (["-m", "kb", "ask", "What is omnichannel?"], {"KB_TOP_K": "0"}, ["KB_TOP_K must be", "got 0"]),
        (
            ["-m", "kb", "ask", "--json", "What is omnichannel?"],
            {"KB_LLM_BASE_URL": "http://127.0.0.1:9/v1"},
            ["KB_LLM_BASE_URL is set but KB_LLM_MODEL is not"],
        ),
        (
            ["-m", "kb", "ask", "What is omnichannel?"],
            {**LLM, "KB_LLM_BASE_URL": "ftp://127.0.0.1:9/v1"},
            ["KB_LLM_BASE_URL must look like"],
        ),
        (["-m", "kb", "serve"], {"KB_PORT": "99999"}, ["KB_PORT (or --port)", "got 99999"]),
        (["-m", "kb", "serve", "--port", "-1"], {}, ["KB_PORT (or --port)", "got -1"]),
        (["app.py"], {"KB_PORT": "-1"}, ["KB_PORT (or --port)", "got -1"]),
        (["app.py"], {"KB_RATE_LIMIT": "-1"}, ["KB_RATE_LIMIT", "0 (no limit)"]),
        (["app.py"], {"KB_REQUEST_TIMEOUT": "-5"}, ["KB_REQUEST_TIMEOUT", "0 (off)"]),
        (["ingest.py"], {"KB_CHROMA_URL": "http://127.0.0.1:abc"}, ["KB_CHROMA_URL", "port from 1 to 65535"]),
        (["ingest.py"], {"KB_CHROMA_URL": "http://127.0.0.1:8000/chroma"}, ["KB_CHROMA_URL", "without a path"]),
        (
            ["-m", "kb", "sources"],
            {"KB_CHROMA_URL": "http://127.0.0.1:9", "KB_CHROMA_TOKEN": "sécret"},
            ["KB_CHROMA_TOKEN must be printable ASCII"],
        ),
        (["ingest.py"], {"KB_CHROMA_TOKEN": "abc"}, ["KB_CHROMA_TOKEN is set but KB_CHROMA_URL is not"]),
    ],
)
def test_a_bad_setting_stops_every_front_door_with_one_line_and_exit_2(
    tmp_path: Path, command: list[str], env: dict[str, str], words: list[str]
) -> None:
    data_dir = tmp_path / "kb"
    assert_refused(run(command, data_dir, env), data_dir, *words)


@pytest.mark.server
def test_a_misspelt_variable_is_warned_about_on_stderr_and_the_json_stays_clean(seeded_settings: Settings) -> None:
    result = run(
        ["-m", "kb", "ask", "--json", "What is omnichannel?"], seeded_settings.data_dir, {"KB_LLM_MODLE": "some-model"}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["mode"] == "extractive"
    warnings = [line for line in result.stderr.splitlines() if "KB_LLM_MODLE" in line]
    assert warnings == [
        "WARNING kb.settings: KB_LLM_MODLE is not an omnikb setting and is ignored; did you mean KB_LLM_MODEL?"
    ]


def test_the_log_level_is_checked_and_the_token_timeouts_are_settings() -> None:
    with pytest.raises(ConfigError, match=r"^KB_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        Settings.from_env({"KB_LOG_LEVEL": "verbose"})
    assert Settings.from_env({"KB_LOG_LEVEL": "info"}).log_level == "info"
    settings = Settings.from_env({**LLM, "KB_LLM_FIRST_TOKEN_TIMEOUT": "90", "KB_LLM_TOKEN_TIMEOUT": "4"})
    assert (settings.llm_first_token_timeout, settings.llm_token_timeout) == (90.0, 4.0)
    with pytest.raises(ConfigError, match=r"^KB_LLM_TOKEN_TIMEOUT must be"):
        Settings.from_env({**LLM, "KB_LLM_TOKEN_TIMEOUT": "0"})


def test_the_blog_s_name_is_the_chat_page_s_title_and_heading(tmp_path: Path) -> None:
    """The chat page said "omnikb" on every blog: a blog owner could not name it."""
    import gradio as gr

    from kb.web.chat import create_app

    settings = Settings.from_env({"KB_SITE_NAME": "Panela de <Barro>", "KB_DATA_DIR": str(tmp_path / "kb")})
    app = create_app(settings)
    assert app.title == "Panela de <Barro>"
    (header,) = [b for b in app.blocks.values() if isinstance(b, gr.HTML) and b.elem_id == "kb-header"]
    assert "<h1>Panela de &lt;Barro&gt;</h1>" in header.value
    for blank in ("   ", "Panela\nde Barro"):
        with pytest.raises(ConfigError, match=r"^KB_SITE_NAME must be the blog's name"):
            Settings.from_env({"KB_SITE_NAME": blank})
