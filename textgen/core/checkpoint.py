"""Self-contained model folders and resumable training state, without pickles.

A model folder (``save_pretrained`` / ``from_pretrained``) holds::

    config.json          {"format": "textgen-model", "format_version": 1, "model_type": ..., "config": {...}}
    model.safetensors    the weights
    textgen_tokenizer.json, tokenizer.json, tokenizer_config.json ...   the tokenizer (see textgen.tokenization)

A run folder's checkpoint adds ``training_state/`` beside them: ``state.safetensors`` for every tensor
(optimizer moments, GradScaler, RNG states) and ``state.json`` for the structure and primitives
(step, epoch, learning-rate schedule ...). Nothing is ever unpickled, so loading a checkpoint cannot
run code.

Writes are atomic: a folder is written under a temporary name and renamed into place, so an
interrupted save never leaves a half-written checkpoint where a good one was.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import torch

from textgen.core import __version__
from textgen.core.files import file_digest

__all__ = [
    "CheckpointError",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "TRAINING_STATE_DIR",
    "atomic_folder",
    "write_model_folder",
    "read_model_folder",
    "model_type_of",
    "save_tree",
    "load_tree",
    "load_weights",
]

FORMAT = "textgen-model"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ALIASES_KEY = "textgen_aliases"  # safetensors metadata: {name: stored name} for tied/shared weights
TRAINING_STATE_DIR = "training_state"
SHA256_KEY = "sha256"             # config.json: {file name: SHA-256 hex digest} of the weights
NO_VERIFY_ENV = "TEXTGEN_NO_VERIFY"   # "1": skip the checksum (textgen --no-verify), for weights edited on purpose


class CheckpointError(ValueError):
    """A folder is not a (compatible) textgen checkpoint; the message says what to do."""


# ----------------------------------------------------------------------------- atomic folders

class atomic_folder:
    """Context manager: write into a temporary sibling folder, then swap it into ``path`` in one step.

    ``with atomic_folder(path) as tmp: ...write files into tmp...``. On an exception the temporary folder
    is removed and ``path`` is left as it was. An existing ``path`` is replaced by exchanging the two folders
    in one ``renameat2(RENAME_EXCHANGE)`` (Linux), so there is no moment without a complete ``path``; where
    that call is missing it takes two renames. ``durable=True`` also fsyncs every file and folder first, so
    a power cut cannot leave the new folder half on disk either.
    """

    def __init__(self, path: str | os.PathLike, *, durable: bool = False):
        self.path = Path(path)
        self.tmp = self.path.parent / f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}"
        self.durable = durable

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir()
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.durable:
            _fsync_tree(self.tmp)
        if not self.path.exists():
            os.replace(self.tmp, self.path)
        elif self.path.is_dir() and not self.path.is_symlink() and _exchange(self.tmp, self.path):
            shutil.rmtree(self.tmp, ignore_errors=True)                 # tmp now holds the old folder
        else:
            old = self.path.parent / f".{self.path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(self.path, old)
            os.replace(self.tmp, self.path)
            shutil.rmtree(old, ignore_errors=True)
        if self.durable:
            _fsync_dir(self.path.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False where unsupported."""
    global _RENAMEAT2
    if _RENAMEAT2 is None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _RENAMEAT2 = libc.renameat2 if hasattr(libc, "renameat2") else False
        except OSError:
            _RENAMEAT2 = False
    if not _RENAMEAT2:
        return False
    at_fdcwd, rename_exchange = -100, 2
    return _RENAMEAT2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


_RENAMEAT2: Any = None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(Path(folder))


# ----------------------------------------------------------------------------- model folders

def write_model_folder(
    directory: str | os.PathLike,
    *,
    model_type: str,
    config: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    tokenizer: Any = None,
    dtype: torch.dtype | None = None,
    extra_files: Callable[[Path], None] | None = None,
) -> Path:
    """Write config.json + model.safetensors (+ tokenizer files) into ``directory``, atomically.

    ``dtype`` (e.g. ``torch.float16``) stores floating-point weights smaller; they are cast back
    to the model's dtype on load.
    """
    from safetensors.torch import save_file

    tensors, aliases = _dedupe_shared(state_dict, dtype)
    with atomic_folder(directory) as tmp:
        metadata = {"format": "pt"}
        if aliases:
            metadata[ALIASES_KEY] = json.dumps(aliases, sort_keys=True)
        save_file(tensors, str(tmp / WEIGHTS_NAME), metadata=metadata)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_type": model_type,
            "textgen_version": __version__,
            "config": dict(config),
            SHA256_KEY: {WEIGHTS_NAME: file_digest(tmp / WEIGHTS_NAME)},   # checked on load: flipped bytes show
        }
        (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if tokenizer is not None:
            tokenizer.save(tmp)
        if extra_files is not None:
            extra_files(tmp)
    return Path(directory)


def _dedupe_shared(state_dict: Mapping[str, torch.Tensor],
                   dtype: torch.dtype | None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Each tensor once: names that share storage (tied or shared embeddings) become aliases of the first.

    Returns ``(tensors to store, {alias: stored name})``; safetensors refuses shared tensors, and storing a
    copy per name would multiply the file by the number of ties.
    """
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for k, v in state_dict.items():
        v = v.detach()
        ident = (v.device, v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape), v.stride(), v.dtype)
        if v.numel() > 0 and ident in seen:
            aliases[k] = seen[ident]
            continue
        seen[ident] = k
        v = v.cpu()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.contiguous()
    return tensors, aliases


READ_ATTEMPTS = 3   # a folder replaced while it is read (a run saving best/) is read again, this many times in all


def read_model_folder(directory: str | os.PathLike, *, model_type: str | None = None, verify: bool | None = None,
                      tokenizer_class: Any = None) -> tuple[dict, dict[str, torch.Tensor], Any]:
    """Read a model folder: returns ``(config, state_dict, tokenizer or None)``.

    ``tokenizer_class`` (e.g. :class:`textgen.tokenization.Tokenizer`) loads the folder's tokenizer with
    its ``load``; None reads no tokenizer.

    A folder that a running training replaces while it is read (the config of one save, the weights of the next)
    is read again from the start; if it keeps changing the error says it is being written.

    Raises :class:`CheckpointError` naming the problem and the fix for a missing folder, a folder
    that is not a textgen model, another model type, a newer format, or corrupt weights.
    """
    cfg_path = Path(directory) / CONFIG_NAME
    for _ in range(READ_ATTEMPTS):
        before = _stamp(cfg_path)
        try:
            result = _read_model_folder(directory, model_type, verify, tokenizer_class)
        except CheckpointError:
            if before is None or _stamp(cfg_path) == before:
                raise                                  # the folder did not change: the problem is real
            continue
        if _stamp(cfg_path) == before:
            return result
    raise CheckpointError(f"{directory} is being written (replaced {READ_ATTEMPTS} times while it was read, by a run "
                          "saving into it); retry when the save is done")


def model_type_of(directory: str | os.PathLike) -> Optional[str]:
    """The ``model_type`` a textgen model folder declares (``"sentence-vae"``, ``"caption-encoder"``,
    ``"text-to-image-gan"`` ...), or None for a folder of another library (e.g. a Hugging Face model directory).
    Reads ``config.json`` only; a missing or unreadable one is a :class:`CheckpointError` that says so."""
    cfg_path = Path(directory) / CONFIG_NAME
    if not cfg_path.is_file():
        raise CheckpointError(f"{directory} is not a model folder: it has no {CONFIG_NAME}")
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{cfg_path} is not valid JSON ({type(e).__name__}); restore the file or re-save the "
                              "model") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    kind = meta.get("model_type")
    return kind if isinstance(kind, str) else None


def _stamp(path: Path) -> Optional[tuple[int, int, int]]:
    """Which file ``path`` is now (inode, size, mtime): a replaced folder gives another stamp."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read_model_folder(directory: str | os.PathLike, model_type: str | None, verify: bool | None,
                       tokenizer_class: Any) -> tuple[dict, dict[str, torch.Tensor], Any]:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(directory)
    if not path.exists():
        raise CheckpointError(f"model folder {path} does not exist; pass a folder written by save_pretrained or a training run")
    if not path.is_dir():
        raise CheckpointError(f"{path} is a file, not a model folder; pass the folder that holds {CONFIG_NAME} and {WEIGHTS_NAME}")
    cfg_path = path / CONFIG_NAME
    if not cfg_path.is_file():
        hint = ""
        if (path / "best").is_dir() or (path / "last").is_dir():
            hint = f" (it looks like a run folder: pass {path / 'best'} or {path / 'last'})"
        raise CheckpointError(f"{path} is not a textgen model folder: it has no {CONFIG_NAME}{hint}")
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_path} is corrupt ({e}); re-save the model or restore the file") from None
    except RecursionError:
        raise CheckpointError(f"{cfg_path} nests too deeply to be a model config; restore the file or re-save "
                              "the model") from None
    except OSError as e:
        raise CheckpointError(f"cannot read {cfg_path} ({e.strerror or e}); check that it is a readable file") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a textgen model folder ({CONFIG_NAME} has no \"format\": \"{FORMAT}\"); "
            "a transformers export is loaded with transformers, not textgen"
        )
    version = meta.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{cfg_path}: \"format_version\" must be an integer, got {json.dumps(version)}; "
                              "restore the file or re-save the model")
    if not isinstance(meta.get("config", {}), dict):
        raise CheckpointError(f"{cfg_path}: \"config\" must be a mapping of settings, got "
                              f"{json.dumps(meta.get('config'))[:60]}; restore the file or re-save the model")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer textgen (format {meta.get('format_version')} > {FORMAT_VERSION}); upgrade textgen"
        )
    if model_type is not None and meta.get("model_type") != model_type:
        raise CheckpointError(
            f"{path} holds a {meta.get('model_type')!r} model, not a {model_type!r}; load it with the matching class"
        )
    weights = path / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{path} has no {WEIGHTS_NAME}; the save was interrupted or the file was removed")
    expected = (meta.get(SHA256_KEY) or {}).get(WEIGHTS_NAME) if isinstance(meta.get(SHA256_KEY), dict) else None
    if verify is None:
        verify = os.environ.get(NO_VERIFY_ENV) != "1"
    if verify and not expected:
        raise CheckpointError(f"{cfg_path} records no SHA-256 of {WEIGHTS_NAME}, so its weights cannot be checked; "
                              "re-save the model with save_pretrained, or load it unchecked with textgen --no-verify")
    if expected and verify:
        try:
            actual = file_digest(weights)
        except OSError as e:
            raise CheckpointError(f"cannot read {weights} ({e.strerror or e}); check that it is a readable file") from None
        if actual != expected:
            raise CheckpointError(f"{weights} is corrupt: its SHA-256 is {actual[:16]}..., not the {expected[:16]}... "
                                  f"that {CONFIG_NAME} recorded when it was saved; restore it from a good checkpoint "
                                  "(or, if you changed the weights on purpose, load with textgen --no-verify)")
    try:
        state = load_file(str(weights))
        with safe_open(str(weights), framework="pt") as f:
            aliases = json.loads((f.metadata() or {}).get(ALIASES_KEY, "{}"))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{weights} is corrupt or truncated ({e}); restore it from a good checkpoint") from None
    for alias, name in aliases.items():  # tied / shared weights were stored once
        if name not in state:
            raise CheckpointError(f"{weights} is inconsistent: {alias!r} refers to a missing tensor {name!r}; "
                                  "restore it from a good checkpoint")
        state[alias] = state[name]
    bad = next((k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
    if bad is not None:
        raise CheckpointError(f"{weights}: tensor {bad!r} holds NaN or infinite values; the model diverged before it "
                              "was saved or the file was damaged: restore an earlier checkpoint")
    tokenizer = tokenizer_class.load(path) if tokenizer_class is not None else None
    return dict(meta.get("config") or {}), state, tokenizer


def describe_count(n: int) -> str:
    """``about 1,234,567`` for a count a user can read, ``more than 10^20`` for a count from a damaged file."""
    n = int(n)
    return f"about {n:,}" if n < 10**15 else f"more than 10^{len(str(n)) - 1}"


def load_weights(module: torch.nn.Module, state: Mapping[str, torch.Tensor], where: str | os.PathLike) -> None:
    """``module.load_state_dict(state)``, with a one-line :class:`CheckpointError` (naming the file, the tensor and
    the fix) instead of torch's traceback when the weights do not fit the module the config built."""
    own = module.state_dict()
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            raise CheckpointError(f"{where}: tensor {key!r} has shape {tuple(value.shape)}, but the config builds "
                                  f"{tuple(own[key].shape)}; the weights and {CONFIG_NAME} come from different models "
                                  f"(restore the folder's own {CONFIG_NAME}, or re-save the model)")
    missing, unexpected = module.load_state_dict(dict(state), strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{where}: the weights do not match the config: missing {sorted(missing)[:5]}, "
                              f"unexpected {sorted(unexpected)[:5]}; the folder mixes files of different models")


# ----------------------------------------------------------------------------- nested state without pickle

def _flatten(obj: Any, tensors: dict[str, torch.Tensor], key: str) -> Any:
    if isinstance(obj, torch.Tensor):
        name = key or "root"
        tensors[name] = obj.detach().cpu().contiguous()
        return {"__tensor__": name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, tensors, f"{key}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_flatten(v, tensors, f"{key}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": {k: _flatten(v, tensors, f"{key}/{k}") for k, v in obj.items()}}
        if all(isinstance(k, int) for k in obj):
            return {"__intdict__": [[k, _flatten(v, tensors, f"{key}/{k}")] for k, v in obj.items()]}
    raise TypeError(f"cannot store {type(obj).__name__} at {key!r}: only tensors and primitives are allowed")


def _unflatten(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            if obj["__tensor__"] not in tensors:
                raise _MissingTensor(obj["__tensor__"])
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"].items()}
        if "__intdict__" in obj:
            return {int(k): _unflatten(v, tensors) for k, v in obj["__intdict__"]}
    return obj


def save_tree(tree: Mapping[str, Any], directory: str | os.PathLike) -> Path:
    """Store a nested structure of tensors and primitives as ``state.safetensors`` + ``state.json`` (atomically)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    structure = _flatten(dict(tree), tensors, "")
    with atomic_folder(directory) as tmp:
        # own copies: safetensors refuses tensors that share storage (the state is small)
        save_file({k: v.detach().cpu().clone() for k, v in tensors.items()}, str(tmp / "state.safetensors"))
        (tmp / "state.json").write_text(json.dumps(structure), encoding="utf-8")
    return Path(directory)


def load_tree(directory: str | os.PathLike) -> dict[str, Any]:
    """Inverse of :func:`save_tree`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(directory)
    if not (path / "state.json").is_file() or not (path / "state.safetensors").is_file():
        raise CheckpointError(f"{path} is not a textgen training state (needs state.json and state.safetensors)")
    try:
        structure = json.loads((path / "state.json").read_text(encoding="utf-8"))
        tensors = load_file(str(path / "state.safetensors"))
    except (json.JSONDecodeError, SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"training state in {path} is corrupt ({e}); resume from another checkpoint") from None
    try:
        return _unflatten(structure, tensors)
    except _MissingTensor as e:
        raise CheckpointError(f"{path / 'state.json'} names a tensor {e.args[0]!r} that state.safetensors does not hold; "
                              "the two files come from different saves: resume from another checkpoint") from None


class _MissingTensor(KeyError):
    pass
