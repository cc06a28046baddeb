"""Evaluating the text-to-image GAN (``textgen eval-gan``): the attribute judge (``judge.py``), FID/KID and
diversity (``fid.py``), the protocol and its report (``evaluate.py``), discriminator checks (``diagnostics.py``)
and pictures (``plots.py``)."""
