"""The README's commands are the ones that work: the test command is CI's, the quick start's
`s3proxy` lines parse (issue 19.1). The fresh-machine run itself is recorded in issue 19."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from s3proxy.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def quick_start() -> str:
    return README.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    command = ci.split("keep identical to README.md", 1)[1].splitlines()[1]
    section = quick_start().split("**Run the tests**", 1)[1]
    assert shell_blocks(section)[0] == command + "\n"  # one line, the same line


def test_the_quick_start_begins_in_a_venv() -> None:
    first = shell_blocks(quick_start())[0].splitlines()
    assert first == [
        "python3 -m venv .venv && . .venv/bin/activate",
        "pip install . && s3proxy serve",
    ]


def s3proxy_commands() -> list[list[str]]:
    commands = []
    for block in shell_blocks(quick_start()):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and "=" in words[0]:  # VAR=value prefixes
                words.pop(0)
            for part in " ".join(words).split(" && "):
                if part.startswith("s3proxy "):
                    commands.append(part.split()[1:])
    return commands


def test_quick_start_names_each_command() -> None:
    assert {argv[0] for argv in s3proxy_commands()} == {"serve", "stats", "locate"}


@pytest.mark.parametrize("argv", s3proxy_commands(), ids=" ".join)
def test_each_quick_start_command_parses(argv: list[str]) -> None:
    build_parser().parse_args(argv)  # argparse exits on an unknown flag or a missing argument
