"""`--watch` loads only ruleset files that have stopped changing, never a half-written one, and
supports atomic deploys: a file renamed into place, or a symlinked rulesets folder swapped
(issue 14, item 2). The polls are driven by hand (`PolicyHolder.poll`), so nothing here waits on
a clock."""

from __future__ import annotations

import os
from pathlib import Path

import aturan
from aturan.service.holder import PolicyHolder
from conftest import TIKTOK_1, make_facts, next_version, tiktok_only

LATER = {"order": {"placed_at": "2025-06-01T10:00:00+07:00"},
         "request": {"at": "2025-06-01T12:00:00+07:00"}}


def holder_for(root: Path) -> PolicyHolder:
    holder = PolicyHolder(root, loader=aturan.load)
    holder.start()
    return holder


def half_that_validates(text: str) -> str:
    """The longest prefix cut at a rule boundary that still validates with fewer rules: what a
    watcher polling mid-write would have served."""
    starts = [i for i in range(len(text)) if text.startswith("\n  - id:", i)]
    for cut in reversed(starts[1:]):
        head = text[:cut + 1]
        try:
            aturan.runtime.evaluate.Policies(
                aturan.language.repository.load_rulesets([_scratch(head)])).close()
        except aturan.RulesetError:
            continue
        return head
    raise AssertionError("no validating prefix")


def _scratch(text: str) -> Path:
    import tempfile
    folder = Path(tempfile.mkdtemp()) / "rulesets" / "tiktok_shop"
    folder.mkdir(parents=True)
    (folder / "1.1.0.yaml").write_text(text, encoding="utf-8")
    return folder.parent


def rules_of(holder: PolicyHolder, key: str) -> int:
    return len(holder.policies.collection.get(*key.split("@")).rules)


def test_a_half_written_file_is_not_loaded_until_it_stops_changing(tmp_path):
    root = tiktok_only(tmp_path)
    holder = holder_for(root)
    full = next_version()
    half = half_that_validates(full)
    target = root / "tiktok_shop" / "1.1.0.yaml"
    target.write_text(half, encoding="utf-8")  # the writer has written half...
    assert not holder.poll()  # ...first seen now: not loaded
    with open(target, "a", encoding="utf-8") as out:
        out.write(full[len(half):])  # ...and finishes before the next poll
    assert not holder.poll()  # changed since the previous poll: still not loaded
    assert holder.policies.collection.get("tiktok_shop", "1.1.0") is None
    assert holder.poll()  # unchanged across two polls: now it is ready
    assert holder.reload("watch").ok
    assert rules_of(holder, "tiktok_shop@1.1.0") == rules_of(holder, "tiktok_shop@1.0.0")
    assert not holder.poll()
    holder.close()


def test_an_atomic_rename_deploy_is_loaded_whole_and_temp_files_are_ignored(tmp_path):
    root = tiktok_only(tmp_path)
    holder = holder_for(root)
    folder = root / "tiktok_shop"
    temp = folder / ".1.1.0.yaml.tmp-4711"  # write elsewhere (here: a hidden file) ...
    temp.write_text(half_that_validates(next_version()), encoding="utf-8")
    (folder / ".#1.0.0.yaml").write_text("editor lock: not YAML {", encoding="utf-8")
    (folder / "1.0.0.yaml~").write_text("backup", encoding="utf-8")
    assert not holder.poll() and not holder.poll()  # hidden and backup files are no rulesets
    temp.write_text(next_version(), encoding="utf-8")
    os.replace(temp, folder / "1.1.0.yaml")  # ... then rename into place
    holder.poll()
    assert holder.poll()
    assert holder.reload("watch").ok
    assert rules_of(holder, "tiktok_shop@1.1.0") == rules_of(holder, "tiktok_shop@1.0.0")
    holder.close()


def test_a_swapped_symlinked_folder_is_seen_and_loaded(tmp_path):
    releases = tmp_path / "releases"
    first = tiktok_only(releases / "a")
    second = tiktok_only(releases / "b")
    (second / "tiktok_shop" / "1.1.0.yaml").write_text(next_version(), encoding="utf-8")
    live = tmp_path / "rulesets"
    live.symlink_to(first, target_is_directory=True)
    holder = holder_for(live)
    assert holder.policies.collection.get("tiktok_shop", "1.1.0") is None
    swap = tmp_path / "rulesets.new"
    swap.symlink_to(second, target_is_directory=True)
    os.replace(swap, live)  # `ln -s releases/b rulesets.new && mv -T rulesets.new rulesets`
    holder.poll()
    assert holder.poll() and holder.reload("watch").ok
    assert holder.policies.decide(make_facts(LATER)).ruleset.version == "1.1.0"
    holder.close()


def test_a_file_replaced_by_one_of_the_same_size_and_time_is_seen(tmp_path):
    root = tiktok_only(tmp_path)
    holder = holder_for(root)
    target = root / "tiktok_shop" / "1.0.0.yaml"
    stat = target.stat()
    text = TIKTOK_1.read_text(encoding="utf-8")
    changed = text.replace("priority: 40", "priority: 41", 1)
    assert len(changed) == len(text) and changed != text
    temp = target.with_name(".swap")
    temp.write_text(changed, encoding="utf-8")
    os.utime(temp, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(temp, target)
    holder.poll()
    assert holder.poll()
    holder.close()
