"""Text output for a file or a pipe, byte for byte what Rich prints, at a fraction of the cost.

Rich renders every line through segments, styles and measurements and flushes after each print:
for `aturan decide` over JSON Lines written to a file that was the run's main cost (minutes for
280,000 orders). `PlainConsole` stands in for the Console `print_decision` writes to when the
output is no terminal: markup tags are taken out by Rich's own parser, lines Rich would print
differently in any other way still go through Rich, and the output is written in blocks.
"""

from __future__ import annotations

import re
from typing import IO, Any, cast

from rich._emoji_replace import _emoji_replace
from rich.console import Console
from rich.markup import _parse as _parse_markup


def plain_console(target: Any, like: Console) -> tuple[PlainConsole, _Batched]:
    """A `PlainConsole` writing to `target` with `like`'s size; flush the batch at the end."""
    batch = _Batched(target)
    rich = Console(file=cast(IO[str], batch), highlight=False, soft_wrap=True,
                   width=like.width, height=like.height, force_terminal=False)
    return PlainConsole(batch, rich), batch


# Text Rich would print differently from its markup with the tags taken out: tabs (expanded),
# control characters (dropped), escapes; and `:name:` emoji codes (checked with Rich's own)
_RICH_ONLY = re.compile(r"[\t\x00-\x1f\x7f\\]")


class PlainConsole:
    """What `print_decision` needs of a Console, for output that is no terminal: markup tags
    taken out by Rich's own parser, and lines Rich would change in any other way (`_RICH_ONLY`)
    printed by `rich` itself, so the text is byte for byte Rich's, at a fraction of the cost
    (Rich renders every line through segments, styles and measurements)."""

    is_terminal = False

    def __init__(self, stream: _Batched, rich: Console):
        self.stream = stream
        self.rich = rich

    def print(self, *objects: Any, **settings: Any) -> None:
        markup = " ".join(str(o) for o in objects)
        if (_RICH_ONLY.search(markup) or not all(isinstance(o, str) for o in objects)
                or (":" in markup and _emoji_replace(markup) != markup)):
            self.rich.print(*objects, **settings)
            return
        if "[" in markup:
            markup = "".join(text for _, text, _tag in _parse_markup(markup) if text is not None)
        self.stream.write(markup + "\n")
        self.stream.flush()


class _Batched:
    """A text stream for Rich that writes to `target` in blocks: Rich flushes after every
    print, which for a file or a pipe cost a system call per line (the text format of 280k
    orders took minutes); the size and colour a Console would probe per print are fixed once."""

    BLOCK = 1 << 16

    def __init__(self, target: Any):
        self.target = target
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.parts.append(text)
        self.size += len(text)
        return len(text)

    def flush(self, final: bool = False) -> None:
        if self.size >= self.BLOCK or final:
            self.target.write("".join(self.parts))
            self.parts.clear()
            self.size = 0
            self.target.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.target, "encoding", "utf-8")
