"""`aturan replay --workers N | --cluster ...`: a log replayed in partitions (rotated .gz files
one each, plain files cut at line boundaries) gives the single-process report byte for byte,
for --verify and --against, on clean logs and on logs edited, cut, repeated, rearranged or
damaged at and across partition and file boundaries; the chain is checked end to end."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

import aturan
from aturan.audit import DecisionLog, LogOptions
from aturan.audit.chain import log_files, read_file
from aturan.audit.replay_partitioned import log_lines, log_partitions
from aturan.cli import main
from aturan.regression.partitioned import InProcess
from aturan.runtime.decision import canonical_json
from conftest import RULESETS, varied_facts

LATER = {"order": {"placed_at": "2025-06-01T10:00:00+07:00",
                   "payment": {"paid_at": "2025-06-01T10:05:00+07:00"},
                   "fulfillment": {"ship_by": "2025-06-03T23:59:00+07:00"}},
         "request": {"at": "2025-06-01T12:00:00+07:00"}}
BLOCKS = ("1500", "4KiB", "32MiB")  # a few records a block, a dozen, whole files


def varied(n: int, later: bool = False) -> dict:
    facts = varied_facts(n)
    if later:
        for part, values in LATER.items():
            for key, value in values.items():
                facts[part][key] = ({**facts[part][key], **value} if isinstance(value, dict)
                                    else value)
    return facts


def make_log(tmp_path: Path, n: int = 60, compress: bool = True, pin: str | None = None,
             later: bool = False) -> Path:
    """A log of `n` decisions, rotated every 32 KiB (gzipped unless `compress` is False)."""
    rulesets = tmp_path / "rulesets"
    if not rulesets.exists():
        shutil.copytree(RULESETS, rulesets)
    policies = aturan.load(rulesets)
    folder = tmp_path / "log"
    log = DecisionLog(folder / "decisions.jsonl",
                      options=LogOptions(max_bytes=32768, compress=compress))
    observed = log.attach(policies, [rulesets])
    for i in range(n):
        observed.decide(varied(i, later), pin)
    log.close()
    policies.close()
    return folder


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def same_reports(capsys, folder: Path, *mode: str, blocks=BLOCKS, formats=("json", "text"),
                 workers: str = "1") -> tuple[int, str]:
    """The single-process report, and the partitioned one equal to it for every block size."""
    expected = None
    for fmt in formats:
        want = run(capsys, "replay", folder, *mode, "--format", fmt)
        for block in blocks:
            got = run(capsys, "replay", folder, *mode, "--format", fmt, "--workers", workers,
                      "--block-size", block, "--no-progress")
            assert got == want, (fmt, block)
        if expected is None:
            expected = want
    assert expected is not None
    return expected[0], expected[1]


def active(folder: Path) -> Path:
    return folder / "decisions.jsonl"


def rewrite(path: Path, change) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(change(lines)), encoding="utf-8")


def test_lines_of_every_partition_are_the_whole_files_lines(tmp_path):
    folder = make_log(tmp_path, 40, compress=False)
    path = active(folder)
    rewrite(path, lambda lines: [lines[0], "\n", "not json\n", *lines[1:], '{"torn": '])
    files = log_files([folder])
    assert len(files) > 2 and any(".gz" not in f.name for f in files[:-1])
    with gzip.open(folder / "extra.jsonl.gz", "wb") as out:  # a gzip file is one partition
        out.write(path.read_bytes()[:5000])
    files = [*files, folder / "extra.jsonl.gz"]
    whole = [line for f in files for line in read_file(f)]
    assert any(line.torn for line in whole) and any(line.record is None for line in whole)
    for block in (1, 7, 700, 1500, 4096, 10**9):
        parts = log_partitions(InProcess(), files, block)
        assert [line for p in parts for line in log_lines(p, str(files[p.file]))] == whole, block
    assert len(log_partitions(InProcess(), files, 4096)) > 2 * len(files)


def test_a_clean_log_verifies_the_same_in_partitions(tmp_path, capsys):
    folder = make_log(tmp_path)
    assert len(log_files([folder])) > 2  # rotated .gz files and the live one
    code, out = same_reports(capsys, folder, "--verify")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["records"] == report["rederived"] == 60
    assert report["chains"][0]["first_seq"] == 1 and report["chains"][0]["last_seq"] == 60


def edit_input(lines, i):
    record = json.loads(lines[i])
    record["input"]["order"]["id"] = "EDITED"
    return [*lines[:i], canonical_json(record) + "\n", *lines[i + 1:]]


def test_links_across_files_are_checked(tmp_path, capsys):
    """Rotated files left plain: a file's last record edited breaks the link to the next
    file's first, which only the merge sees."""
    folder = make_log(tmp_path, compress=False)
    first = log_files([folder])[0]

    rewrite(first, lambda lines: edit_input(lines, len(lines) - 1))
    code, out = same_reports(capsys, folder, "--verify")
    report = json.loads(out)
    assert code == 1 and [p["kind"] for p in report["chain"]] == ["edited"]
    assert report["chain"][0]["where"].startswith(str(first))


def test_a_garbage_line_at_the_end_of_a_file_leaves_the_next_files_link_unchecked(
        tmp_path, capsys):
    """As in one scan: a line that is no record hides the edit of the record before it from
    the link check, across the file boundary too."""
    folder = make_log(tmp_path, compress=False)
    rewrite(log_files([folder])[0], lambda lines: [*edit_input(lines, len(lines) - 1),
                                                   "garbage\n"])
    code, out = same_reports(capsys, folder, "--verify")
    assert code == 1 and [p["kind"] for p in json.loads(out)["chain"]] == ["unreadable"]


def edit_result(lines, i):
    record = json.loads(lines[i])
    outcome = record["result"]["outcome"]
    record["result"]["outcome"] = "rejected" if outcome != "rejected" else "approved"
    return [*lines[:i], canonical_json(record) + "\n", *lines[i + 1:]]


def drop_seq(lines, i):
    record = json.loads(lines[i])
    del record["seq"]
    return [*lines[:i], canonical_json(record) + "\n", *lines[i + 1:]]


TAMPERINGS = {
    "edited result": lambda lines: edit_result(lines, 3),
    "deleted records": lambda lines: [*lines[:2], *lines[3:6], *lines[8:]],
    "repeated records": lambda lines: [*lines[:4], lines[3], lines[3], *lines[4:9], lines[8],
                                       *lines[9:]],
    "rearranged": lambda lines: [lines[0], lines[2], lines[1], *lines[3:-2], lines[-1],
                                 lines[-2]],
    "moved far back": lambda lines: [*lines[:2], lines[-1], *lines[2:-1]],
    "unreadable lines": lambda lines: [lines[0], "{not json\n", *lines[1:5], "[1]\n",
                                       *lines[5:]],
    "replaced by garbage": lambda lines: [*lines[:3], "garbage\n", *lines[4:8], "[]\n",
                                          *lines[9:]],
    "edited, then garbage": lambda lines: [*edit_input(lines, 3)[:4], "garbage\n",
                                           *lines[4:]],
    "record without seq": lambda lines: drop_seq(lines, 4),
    "torn last line": lambda lines: [*lines, lines[0][:100]],
    "starting mid-chain": lambda lines: lines[3:],
}


@pytest.mark.parametrize("name", TAMPERINGS)
def test_a_tampered_log_fails_the_same_in_partitions(tmp_path, capsys, name):
    folder = make_log(tmp_path, 30, compress=False)
    files = log_files([folder])
    assert len(files) >= 2 and len(files[0].read_bytes().splitlines()) >= 12
    if name == "starting mid-chain":  # only a later file given: the chain starts at its seq
        rewrite(files[1], TAMPERINGS[name])
        folder = files[1]
    elif name == "torn last line":
        rewrite(active(folder), TAMPERINGS[name])
    else:  # the first file: its records and its link to the next file
        rewrite(files[0], TAMPERINGS[name])
    code, out = same_reports(capsys, folder, "--verify", formats=("json",))
    report = json.loads(out)
    if name in ("torn last line", "starting mid-chain"):
        assert code == 0 and report["ok"], report
    else:
        assert code == 1 and (report["chain"] or report["mismatches"]), report


def test_text_reports_of_a_tampered_log_are_the_same(tmp_path, capsys):
    folder = make_log(tmp_path, 30, compress=False)
    rewrite(log_files([folder])[0], TAMPERINGS["repeated records"])
    code, out = same_reports(capsys, folder, "--verify", formats=("text",), blocks=("1500",))
    assert code == 1 and "FAIL duplicate" in out


def test_against_in_partitions_is_the_single_process_report(tmp_path, capsys):
    folder = make_log(tmp_path, 60, compress=False, pin="tiktok_shop@1.0.0", later=True)
    mode = ("--against", "tiktok_shop@2.0.0")
    code, out = same_reports(capsys, folder, *mode)
    report = json.loads(out)
    assert code == 0 and report["changed"] > 0 and report["orders"] == 60
    assert report["by_outcome"][0]["examples"][0]["decision_id"]
    rewrite(log_files([folder])[0], TAMPERINGS["deleted records"])  # the same chain warning
    code, _ = same_reports(capsys, folder, *mode, "--fail-on-change", formats=("json",))
    assert code == 1
    got = run(capsys, "replay", folder, *mode, "--workers", "1", "--block-size", "1500")
    assert "hash chain is broken" in got[2]


def test_usage(tmp_path, capsys):
    folder = make_log(tmp_path, 3)
    code, _, err = run(capsys, "replay", folder, "--show", "x", "--workers", "2")
    assert code == 2 and "--show" in err
    code, _, err = run(capsys, "replay", folder, "--verify", "--cluster", "nowhere")
    assert code == 2 and "local:N" in err
    code, _, err = run(capsys, "replay", folder, "--against", "tiktok_shop@9.9.9",
                       "--workers", "1")
    assert code == 2 and "tiktok_shop@9.9.9" in err


# ---- on worker processes and a real Dask LocalCluster (slow: `make test` and CI run these) ----

@pytest.fixture(scope="module")
def cluster():
    """LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)."""
    from aturan.regression.cluster import local_cluster
    with local_cluster(2) as local:
        yield local


@pytest.mark.slow
def test_verify_on_a_cluster_and_a_pool_is_the_single_process_report(tmp_path, capsys,
                                                                      cluster):
    folder = make_log(tmp_path, 60, compress=False)
    rewrite(log_files([folder])[0], TAMPERINGS["repeated records"])
    want = run(capsys, "replay", folder, "--verify", "--format", "json")
    assert want[0] == 1 and "duplicate" in want[1]
    for how in (["--cluster", cluster.scheduler_address], ["--workers", "2"]):
        for block in ("1500", "32MiB"):
            got = run(capsys, "replay", folder, "--verify", "--format", "json",
                      "--block-size", block, *how)
            assert got == want, (how, block)


@pytest.mark.slow
def test_against_on_a_cluster_is_the_single_process_report(tmp_path, capsys, cluster):
    folder = make_log(tmp_path, 60, pin="tiktok_shop@1.0.0", later=True)
    mode = ("replay", folder, "--against", "tiktok_shop@2.0.0")
    for fmt in ("json", "text"):
        want = run(capsys, *mode, "--format", fmt)
        assert want[0] == 0 and "changed" in want[1]
        got = run(capsys, *mode, "--format", fmt, "--block-size", "1500",
                  "--cluster", cluster.scheduler_address)
        assert got == want, fmt


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line_and_exit_1(tmp_path, capsys):
    import dask
    folder = make_log(tmp_path, 3)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, out, err = run(capsys, "replay", folder, "--verify", "--cluster",
                             "tcp://127.0.0.1:9")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "cluster-unreachable" in err and "127.0.0.1:9" in err


def test_a_text_found_missing_is_looked_for_again_by_the_next_replay(tmp_path, capsys):
    """A worker keeps its loaded texts for one run only: a resolver remembers a digest it could
    not find, and the archive may be restored before the next replay."""
    folder = make_log(tmp_path, 5)
    shutil.rmtree(tmp_path / "rulesets")
    (tmp_path / "empty").mkdir()
    archive = folder / "aturan-rulesets"
    shutil.move(archive, tmp_path / "aside")
    args = ("replay", folder, "--verify", "--format", "json", "--workers", "1", "--rulesets",
            tmp_path / "empty")
    code, out, _ = run(capsys, *args)
    assert code == 1 and json.loads(out)["mismatches"][0]["kind"] == "no-ruleset-text"
    shutil.move(tmp_path / "aside", archive)
    code, out, _ = run(capsys, *args)
    assert code == 0 and json.loads(out)["ok"]


def test_a_log_rotated_during_the_replay_fails_it(tmp_path):
    """Partitions open their file when they run: one rotated away meanwhile would be read from
    the new live file, so the replay says so and fails rather than report on a mix."""
    from aturan.audit.replay_partitioned import run_verify
    from aturan.errors import AturanError

    folder = make_log(tmp_path, 20, compress=False)
    files = log_files([folder])

    class Rotating(InProcess):
        def map(self, task, job, parts):
            for i, done in enumerate(super().map(task, job, parts)):
                if i == 0 and task.__name__ == "verify_partition":
                    live = active(folder)
                    live.rename(folder / "decisions.000000000099.jsonl")
                    live.write_text("")
                yield done

    with pytest.raises(AturanError) as caught:
        run_verify(Rotating(), files, [str(folder / "aturan-rulesets")], [tmp_path / "rulesets"],
                   block_size=4096)
    assert caught.value.first.code == "log-rotated" and "decisions.jsonl" in str(caught.value)
    files = log_files([folder])
    report = run_verify(InProcess(), files, [str(folder / "aturan-rulesets")],
                        [tmp_path / "rulesets"], block_size=4096)
    assert report.chain.records == 20 and not report.mismatches


def test_a_gzip_log_cut_short_ends_in_a_damaged_line_numbered_after_the_last_read(tmp_path):
    """The damaged line of a truncated gzip file is numbered after the lines read, blank ones
    included, so the report points at where the file was cut. It is damage, not a torn line:
    the writer renames a compressed file into place only once it is whole, so records were
    lost (a torn line is only a note; this fails the check)."""
    lines = b"".join(json.dumps({"seq": n}).encode() + b"\n" for n in range(2000)) + b"\n\n"
    whole = gzip.compress(lines)
    path = tmp_path / "decisions.1.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    read = list(read_file(path))
    *records, cut = read
    assert not cut.torn and cut.record is None and cut.raw == b""
    assert "cut short" in cut.damaged
    assert [line.record for line in records] == [{"seq": n} for n in range(len(records))]
    assert 0 < len(records) < 2000 and cut.number > records[-1].number
