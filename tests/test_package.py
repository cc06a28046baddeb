"""The package as users meet it: light import, console script, python -m, CLI errors."""
import subprocess
import sys
from pathlib import Path

import pytest

from textgen.cli import main

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("transformers", "datasets", "matplotlib")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT).stdout


def test_import_textgen_is_light():
    out = _run(
        "import sys, textgen\n"
        "import textgen.core.config, textgen.core.runtime, textgen.cli, textgen.tokenization, textgen.data\n"
        "import textgen.vae.sentence_encoder, textgen.pipelines, textgen.integrations\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert out.strip() == "[]", f"import textgen pulled in heavy libraries: {out}"


def test_lazy_public_names():
    out = _run("import textgen; print(textgen.Tokenizer.__name__, textgen.load_config.__name__)")
    assert out.split() == ["Tokenizer", "load_config"]


def test_one_export_table_names_every_pipeline_output():
    import importlib

    import textgen
    import textgen.pipelines

    for module in ("textgen.vae.pipeline", "textgen.gan.pipeline"):          # every public name of a pipeline module
        defined = importlib.import_module(module)
        for name in defined.__all__:
            assert getattr(textgen.pipelines, name) is getattr(textgen, name) is getattr(defined, name)
    assert set(textgen.pipelines.__all__) < set(textgen.__all__)
    for name in textgen.__all__:
        assert getattr(textgen, name) is not None, name


def test_python_dash_m_and_console_script():
    r = subprocess.run([sys.executable, "-m", "textgen", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "train-tokenizer" in r.stdout
    exe = Path(sys.executable).with_name("textgen")
    if exe.exists():
        r = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.startswith("textgen ")


def test_cli_user_errors_exit_2_without_traceback(tmp_path, capsys):
    assert main(["show-config", "--config", str(tmp_path / "nope.yaml"), "--kind", "tokenizer"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not exist" in err and "Traceback" not in err

    assert main(["show-config", "--config", str(ROOT / "configs/tokenizer/ptb_word.yaml"), "tokenizer.kind=chars"]) == 2
    assert "'chars' is not allowed; choose one of 'word', 'bpe', 'unigram', 'sentencepiece'" in capsys.readouterr().err

    assert main(["corpus-info", "--data", "nosuchformat:abc"]) == 2
    assert "error:" in capsys.readouterr().err


def test_show_config_prints_resolved_yaml(capsys):
    assert main(["show-config", "--config", str(ROOT / "configs/tokenizer/ptb_word.yaml"), "tokenizer.min_freq=2"]) == 0
    out = capsys.readouterr().out
    assert "min_freq: 2" in out and "kind: word" in out


def test_train_tokenizer_command_saves_tokenizer_and_resolved_config(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat .\nthe dog sat .\n", encoding="utf-8")
    cfg = tmp_path / "tok.yaml"
    cfg.write_text(f"data:\n  train: {corpus}\n  valid: null\n  test: null\ntokenizer:\n  kind: word\n")
    out = tmp_path / "out"
    assert main(["train-tokenizer", "--config", str(cfg), "--out", str(out), "tokenizer.lowercase=true"]) == 0
    from textgen.core.config import TokenizerRunConfig, load_config
    from textgen.tokenization import Tokenizer

    saved = load_config(TokenizerRunConfig, out / "config.yaml")
    assert saved.tokenizer.lowercase is True and saved.out_dir == str(out)
    tok = Tokenizer.load(out)
    assert tok.decode(tok.encode("The cat sat .")) == "the cat sat ."


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts").glob("*.py")))
def test_scripts_run(script):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.startswith("usage: "), r.stderr
