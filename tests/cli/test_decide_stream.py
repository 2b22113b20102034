"""`aturan decide` streams JSON Lines (issue 14, item 7): bounded memory, a bad UTF-8 line is
that line's error and the run goes on (exit 1 at the end), a lone surrogate is a located error
(item 4), the fast text output is byte for byte Rich's; and JSON errors are located at the
duplicate key / the NaN itself (item 15)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from aturan.cli import main
from aturan.errors import FactsError
from aturan.runtime.jsonio import parse_json, read_stream
from conftest import ROOT, make_facts

TIMEOUT = 120


def lines(*docs: bytes) -> io.BytesIO:
    return io.BytesIO(b"\n".join(docs) + b"\n")


def test_a_bad_utf8_line_is_reported_by_its_number_and_the_run_goes_on():
    good = json.dumps(make_facts()).encode()
    found = list(read_stream(lines(good, b'{"order": "caf\xe9"}', good), "orders.jsonl"))
    assert [n for n, _ in found] == [1, 2, 3]
    assert not isinstance(found[0][1], FactsError) and not isinstance(found[2][1], FactsError)
    error = found[1][1]
    assert isinstance(error, FactsError)
    assert str(error.first) == ("orders.jsonl:2:15: json-encoding: not UTF-8 text (invalid "
                                "continuation byte: byte 0xE9) (at /)")


def test_documents_pretty_printed_or_on_one_line_and_errors_per_line():
    pretty = json.dumps(make_facts(), indent=2).encode()
    assert [type(d) for _, d in read_stream(io.BytesIO(b"\n\n" + pretty), "x")] == [dict]
    assert [n for n, _ in read_stream(io.BytesIO(pretty.replace(b"{", b"{ ", 1)), "x")] == [1]
    broken = list(read_stream(io.BytesIO(b'{"order": \n{"a": 1}\n'), "x"))
    assert [n for n, _ in broken] == [1, 2] and isinstance(broken[0][1], FactsError)
    empty = list(read_stream(io.BytesIO(b"\n  \n"), "x"))
    assert empty[0][1].first.code == "json-empty"


def test_a_line_over_the_limit_is_an_error_and_is_never_held_whole():
    good = json.dumps(make_facts()).encode()
    huge = b'{"order": "' + b"x" * 5000 + b'"}'
    found = list(read_stream(lines(good, huge, good), "x", limit=len(good) + 10))
    assert [n for n, _ in found] == [1, 2, 3]
    assert found[1][1].first.code == "json-too-large"


def test_decide_json_lines_exits_1_at_the_end_with_every_line(tmp_path, capsys):
    good = json.dumps(make_facts()).encode()
    surrogate = good.replace(b'"TS-1001"', b'"TS-\\ud800"')
    path = tmp_path / "orders.jsonl"
    path.write_bytes(b"\n".join([good, b"\xff\xfe", surrogate, good]) + b"\n")
    assert main(["decide", str(path), "--format", "json"]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o.get("line") for o in out] == [None, 2, 3, None]
    assert out[1]["errors"][0]["code"] == "json-encoding"
    assert out[2]["errors"][0] == {"pointer": "/order/id", "code": "facts-text", "message":
                                   "text holds a lone UTF-16 surrogate (such as \\ud800), which "
                                   "is not a character; send valid Unicode"}


def test_a_lone_surrogate_in_one_document_is_exit_1_without_a_traceback(tmp_path):
    path = tmp_path / "order.json"
    path.write_bytes(json.dumps(make_facts()).encode().replace(b'"paid"', b'"\\udc00"', 1))
    done = subprocess.run([sys.executable, "-m", "aturan", "decide", str(path)],
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "/order/status: facts-text:" in done.stderr


def test_the_fast_text_output_is_byte_for_byte_richs(tmp_path):
    """Text to a file or pipe skips Rich's renderer; lines Rich would change (escapes, tabs,
    emoji codes) still go through it. Compared with Rich itself on every example order, in
    both languages, with a why-not report."""
    from rich.console import Console

    from aturan.cli import plain as module
    orders = (ROOT / "examples" / "orders.jsonl").read_text(encoding="utf-8")
    tricky = ["[bold]x[/] \\[not a tag] :thumbs_up: 10:00:00 a\tb", "plain — ✔ text",
              "[dim]· order.status in \\[paid] — actual paid[/]", ":smile:x:"]
    plain_out, rich_out = io.StringIO(), io.StringIO()
    batch = module._Batched(plain_out)
    plain = module.PlainConsole(batch, Console(file=batch, highlight=False, soft_wrap=True,
                                               width=80, force_terminal=False))
    rich = Console(file=rich_out, highlight=False, soft_wrap=True, width=80,
                   force_terminal=False)
    for text in tricky:
        plain.print(text)
        rich.print(text)
    batch.flush(final=True)
    assert plain_out.getvalue() == rich_out.getvalue()
    for options in ([], ["--lang", "id"], ["--why-not", "cod-buyer-cancel-via-seller-or-cs"]):
        fast = subprocess.run([sys.executable, "-m", "aturan", "decide", "-", *options],
                              input=orders, capture_output=True, text=True, timeout=TIMEOUT,
                              cwd=ROOT)
        slow = subprocess.run([sys.executable, "-c", RICH_ONLY, *options], input=orders,
                              capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)
        assert fast.stdout == slow.stdout and fast.stdout


RICH_ONLY = """
import sys
from aturan.cli import main
# every line through Rich, as before (`aturan.cli.decide` is also the command's name)
sys.modules["aturan.cli.decide"].plain_console = lambda target, like: (like, None)
sys.exit(main(["decide", "-", *sys.argv[1:]]))
"""


@pytest.mark.slow
def test_decide_streams_in_bounded_memory(tmp_path):
    """About 60 MB of JSON Lines decided in a peak RSS that does not grow with the input."""
    line = (json.dumps(make_facts()) + "\n").encode()
    path = tmp_path / "many.jsonl"
    with open(path, "wb") as out:
        for _ in range(60_000_000 // len(line)):
            out.write(line)
    # VmHWM, not ru_maxrss: the latter can carry the forking parent's (pytest's) high-water mark
    code = ("import sys\nfrom aturan.cli import main\n"
            "code = main(['decide', sys.argv[1], '--format', 'json'])\n"
            "status = open('/proc/self/status').read()\n"
            "print(status.split('VmHWM:')[1].split()[0], file=sys.stderr)\n"
            "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, str(path)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stderr.strip().splitlines()[-1]) / 1024
    assert peak_mb < 150  # it read the whole file into memory before: ~3.3x its size


@pytest.mark.parametrize("text, where", [
    ('{"a": 1,\n  "b": {"x": "NaN, [", "y": NaN}}', (2, 29)),
    ('{"a": 1,\n  "b": {"c": 1, "c": 2}}', (2, 17)),
    ('{"s": "\\"a\\": 1", "a": 1,\n "a": 2}', (2, 2)),
    ('[{"k": 1}, {"k": 2,\n\n   "k": 3}]', (3, 4)),
])
def test_json_errors_point_at_the_duplicate_key_or_the_literal(text, where):
    with pytest.raises(FactsError) as caught:
        parse_json(text, "x.json")
    location = caught.value.first.location
    assert (location.line, location.col) == where
