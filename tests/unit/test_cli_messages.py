"""What the coursegen command says before it touches a database: every command's help describes
it and every argument, and bad input is one line on stderr, exit status 1, no traceback."""

from __future__ import annotations

import argparse
import io
import subprocess
from pathlib import Path

import pytest

from chalicelib.adapters.sqlite_state import SqliteStateStore
from chalicelib.cli import _parser, interrupted_message, main, say_interrupted


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand, as the words that name it."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*path, name))
                found += commands(sub, (*path, name))
    return found


def subparser(words: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = _parser()
    for word in words:
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = sub.choices[word]
    return parser


ALL = commands(_parser())


def test_every_command_is_found() -> None:
    assert ("generate",) in ALL and ("courses", "retry") in ALL and ("library", "add") in ALL
    assert len(ALL) == 16


@pytest.mark.parametrize("words", ALL, ids=[" ".join(words) for words in ALL])
def test_every_commands_help_says_what_it_does_and_what_each_argument_is(
    words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    parser = subparser(words)
    assert parser.description and parser.description[0].isupper(), words
    undocumented = [
        action.dest
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction) and not action.help
    ]
    assert undocumented == [], f"coursegen {' '.join(words)}: no help for {undocumented}"
    with pytest.raises(SystemExit) as done:
        main([*words, "--help"])
    assert done.value.code == 0
    assert parser.description.splitlines()[0] in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["generate", "Learn DCF valuation", "--hours", "0"],
            "invalid request: hours must be from 0.25 to 40, got 0",
        ),
        (
            ["generate", "Learn DCF valuation", "--hours", "1000"],
            "invalid request: hours must be from 0.25 to 40, got 1000",
        ),
        (
            ["generate", "Learn DCF valuation", "--hours", "nan"],
            "invalid request: hours must be from 0.25 to 40, got nan",
        ),
        (["generate", "  ", "--hours", "1"], "invalid request: query must be at least 3 characters"),
        (["generate", "x" * 501, "--hours", "1"], "invalid request: query must be at most 500 characters"),
    ],
)
def test_a_bad_request_is_one_sentence_naming_the_field_and_its_range(
    tmp_path: Path, args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path / "data"), *args]) == 1
    err = capsys.readouterr().err
    assert err == f"coursegen: error: {said}\n"
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_a_folder_that_cannot_be_made_is_named_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    assert main(["samples", str(tmp_path / "file" / "books")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("coursegen: error: ") and str(tmp_path / "file") in err
    assert "Traceback" not in err and "Error:" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("variable", "value"), [("COURSEGEN_PLANNER", "gpt"), ("COURSEGEN_LOG_LEVEL", "chatty")]
)
def test_a_bad_setting_in_the_environment_is_one_line_naming_it(
    tmp_path: Path,
    variable: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.chdir(tmp_path)
    assert main(["courses", "list"]) == 1  # no --data-dir: the default comes from the environment
    err = capsys.readouterr().err
    assert err.startswith(f"coursegen: error: {variable}=") and value in err.lower()
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_ctrl_c_names_the_course_it_leaves_and_how_to_go_on() -> None:
    message = interrupted_message("abc123")
    assert "course abc123 is kept" in message and "`coursegen courses retry abc123`" in message
    assert interrupted_message(None) == "coursegen: interrupted"


def test_without_data_dir_the_cli_uses_coursegen_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "elsewhere"
    data.mkdir()
    SqliteStateStore(data / "state.sqlite3")  # what `db status` counts the waiting events of
    monkeypatch.chdir(tmp_path)  # no .coursegen here
    monkeypatch.setenv("COURSEGEN_DATA_DIR", str(data))
    assert main(["db", "status"]) == 0
    assert "0 workflow events waiting for delivery" in capsys.readouterr().out
    assert not (tmp_path / ".coursegen").exists()
    monkeypatch.delenv("COURSEGEN_DATA_DIR")
    assert main(["db", "status"]) == 0
    assert "waiting for delivery" not in capsys.readouterr().out  # .coursegen: no state yet


def test_make_serve_serves_the_data_dir_it_is_given() -> None:
    root = Path(__file__).resolve().parents[2]
    dry = subprocess.run(
        ["make", "-n", "serve", "DATA_DIR=somewhere"], cwd=root, capture_output=True, text=True, check=True
    )
    [serve] = [line for line in dry.stdout.splitlines() if "chalice local" in line]
    assert serve.startswith("COURSEGEN_DATA_DIR=somewhere ")


def test_db_stop_says_when_there_was_nothing_to_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path), "db", "stop"]) == 0
    assert capsys.readouterr().err == "PostgreSQL was not running\n"


def test_the_model_planner_without_a_key_is_refused_before_a_course_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("OPENAI_API_KEY", "COURSEGEN_OPENAI_API_KEY", "COURSEGEN_OPENAI_API_KEY_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("COURSEGEN_OPENAI_BASE_URL", raising=False)
    data = tmp_path / "data"
    args = ["--data-dir", str(data), "generate", "Learn DCF valuation", "--hours", "1", "--planner", "openai"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("coursegen: error: the openai planner/embedder needs an API key: set ")
    assert not data.exists()  # no server started, no course made: it would retry for a minute


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_ctrl_c_starts_a_new_line_after_the_progress_line() -> None:
    terminal, piped = Terminal("[  0.6s] planning the parts"), io.StringIO()
    terminal.seek(0, io.SEEK_END)
    say_interrupted(terminal, "abc123")
    say_interrupted(piped, "abc123")
    assert terminal.getvalue() == "[  0.6s] planning the parts\n" + interrupted_message("abc123") + "\n"
    assert piped.getvalue() == interrupted_message("abc123") + "\n"
