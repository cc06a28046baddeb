"""What every model family shares, and nothing model-specific:

* ``config.py``     -- strict dataclass configs from YAML with ``key=value`` overrides;
* ``runtime.py``    -- device, precision, seeds and RNG state, progress bars, metrics logs, atomic writes;
* ``checkpoint.py`` -- model folders (``config.json`` + ``model.safetensors``) and nested training state;
* ``pretrained.py`` -- ``save_pretrained`` / ``from_pretrained`` and the registry of shipped models;
* ``functional.py`` -- small maths shared by the models (the Gaussian KL);
* ``lazy.py``       -- lazy package attributes, so ``import textgen`` stays light.
"""
from __future__ import annotations

__version__ = "0.1.0"
