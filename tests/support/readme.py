"""The `provenant` commands the README shows, as a user would type them."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
FENCED_BASH = re.compile(r"^```(?:bash|sh|shell)\n(.*?)^```", re.S | re.M)
PREFIX = ".venv/bin/provenant"


def readme_commands(path: Path = README) -> list[str]:
    """Every `.venv/bin/provenant ...` line of the README's bash blocks, without comments."""
    commands = []
    for block in FENCED_BASH.findall(path.read_text()):
        for line in block.replace("\\\n", " ").splitlines():  # continued lines are one
            words = shlex.split(line, comments=True)
            if words and words[0] == PREFIX:
                commands.append(shlex.join(words[1:]))
    return commands
