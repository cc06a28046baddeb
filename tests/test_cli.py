"""The command line as a whole: fast help, one name per option, logging, streaming file commands."""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TINY_SENTENCES
from textgen.cli import main
from textgen.cli.main import build_parser
from textgen.core.logs import warn

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_help_of_every_command_does_not_import_torch():
    code = ("import sys\nfrom textgen.cli import main\nfrom textgen.cli.main import build_parser\n"
            "import argparse\n"
            "[sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]\n"
            "for argv in [['--help']] + [[c, '--help'] for c in sub.choices]:\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n        assert e.code == 0, argv\n"
            "heavy = [m for m in ('torch', 'transformers', 'datasets', 'matplotlib') if m in sys.modules]\n"
            "print(len(sub.choices), heavy)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    count, heavy = r.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) >= 20 and heavy == "[]"


def test_every_option_has_help_and_one_name_across_commands():
    spellings: dict[str, set] = {}
    missing = []
    for name, p in _commands().items():
        for a in p._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            if not a.help:
                missing.append(f"{name} {'/'.join(a.option_strings) or a.dest}")
            if a.option_strings:
                spellings.setdefault(a.dest, set()).add(tuple(sorted(a.option_strings)))
    assert missing == []
    assert {dest: s for dest, s in spellings.items() if len(s) > 1} == {}
    assert ("-n",) in spellings["n"]                     # make-birds, sample, generate-images, demo alike
    quiet = [n for n, p in _commands().items() if not any("--quiet" in a.option_strings for a in p._actions)]
    assert quiet == []


def test_warn_is_said_once_per_call_site_of_the_user_code(caplog):
    with caplog.at_level(logging.WARNING, logger="textgen"):
        for i in range(3):
            warn(f"{i} words outside the vocabulary", key="unknown")          # this line: said once
        warn("3 words outside the vocabulary", key="unknown")                 # another line: said again
    records = [r for r in caplog.records if r.name == "textgen"]
    assert [r.getMessage() for r in records] == ["0 words outside the vocabulary", "3 words outside the vocabulary"]
    assert {r.pathname for r in records} == {__file__}                         # the user's file and lines
    assert records[1].lineno == records[0].lineno + 1


def test_quiet_silences_information_and_keeps_warnings(model_dir, capsys):
    long = " ".join(TINY_SENTENCES[:3])
    logger = logging.getLogger("textgen")
    before = (list(logger.handlers), logger.level, logger.propagate)
    assert main(["reconstruct", long, "--model", str(model_dir), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 sentence(s) longer than" in err and "truncated" in err
    assert (list(logger.handlers), logger.level, logger.propagate) == before   # the command's handler is gone


def test_reconstruct_file_streams_and_follows_on_error(model_dir, tmp_path, capsys):
    lines = [TINY_SENTENCES[0], "zzqx qqzy", TINY_SENTENCES[1]]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = ["reconstruct", "--file", str(src), "--model", str(model_dir), "--strategy", "greedy", "--json"]
    assert main(base) == 2                                                    # raise (default): names the line
    captured = capsys.readouterr()
    assert "line 2 'zzqx qqzy'" in captured.err and "--on-error skip" in captured.err
    assert main(base + ["--on-error", "skip"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["input"] for r in rows] == [lines[0], lines[2]]
    assert rows[0]["reconstruction"] == lines[0]                             # the tiny model brings it back
    assert "skipped line 2" in captured.err
    assert main(base + ["--on-error", "null"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["reconstruction"] is None for r in rows] == [False, True, False]
    assert "only words outside the model's vocabulary" in rows[1]["error"]


def test_reconstruct_prints_each_chunk_as_it_is_done(model_dir, tmp_path):
    src = tmp_path / "many.txt"
    src.write_text("\n".join(TINY_SENTENCES * 12) + "\n", encoding="utf-8")   # more than one chunk of 32
    proc = subprocess.Popen([sys.executable, "-m", "textgen", "reconstruct", "--file", str(src), "--model",
                             str(model_dir), "--strategy", "greedy", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    first = proc.stdout.readline()                        # rows are printed (and flushed) chunk by chunk
    out, err = proc.stdout.read(), proc.stderr.read()     # (communicate() would skip what readline buffered)
    assert proc.wait(timeout=120) == 0, err
    assert first.strip() == TINY_SENTENCES[0]
    rows = (first + out).splitlines()
    assert sum(r.startswith("> ") for r in rows) == sum(r.startswith("  ") for r in rows) == len(TINY_SENTENCES) * 12


def test_eval_reports_of_shipped_models_go_to_the_current_folder():
    from textgen.cli.vae import default_report_path

    assert default_report_path("ptb-lstm-vae", "ptb:test", None) == "eval_ptb-lstm-vae_ptb_test.json"
    assert default_report_path("runs/vae/x/best", "ptb:test", 100) == str(Path("runs/vae/x/best/eval_ptb_test_first100.json"))


def test_english_corpus_builds_without_cub_unless_asked_for(monkeypatch, tmp_path, caplog):
    from textgen.data import english_sources as es
    from textgen.data.corpus import CorpusError

    monkeypatch.chdir(tmp_path)                                   # no shared/ or ../shared/ here
    monkeypatch.delenv(es.CUB_PATH_ENV, raising=False)
    monkeypatch.setattr(es, "_make", lambda name, path: name)      # the selection only, no packages read
    with caplog.at_level(logging.WARNING, logger="textgen"):
        names = es.english_readers(es.SOURCES)
    assert "cub" not in names and "wikitext2" in names
    assert "built without the caption source; pass --cub FILE" in caplog.text
    assert "cub" in es.english_readers(["caption"])                # asked for by name: read (and checked) as before
    monkeypatch.undo()
    with pytest.raises(CorpusError, match="pass --cub FILE"):
        es.english_readers(["caption"], cub_path=tmp_path / "missing.jsonl.gz")
