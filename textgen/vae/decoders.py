"""Sentence decoders p(x|z) for the Sentence VAE (and the language-model baseline, where z is absent).

Both decoders share one interface:

* ``forward(inputs (B, T), z (B, Z) | None) -> features (B, T, F)`` -- teacher-forced, one
  full-sequence call (cuDNN-style ``nn.LSTM``/``nn.GRU``, or causal attention), no Python loop;
* ``head(features) -> logits (..., V)`` -- the output projection, applied by the caller to the real
  (non-pad) positions only;
* ``start(z, n) -> state`` / ``step(tokens (N,), state) -> (features (N, F), state)`` /
  ``reorder(state, index) -> state`` -- incremental decoding for generation (beam search reorders).

How z enters:

* :class:`RNNDecoder` (Bowman et al. 2016): ``z_init_state`` maps z through a Linear to the initial
  state of every layer (h, and c for an LSTM; h optionally squashed by tanh), and/or
  ``z_concat_input`` concatenates z to the input embedding at every step.
* :class:`TransformerDecoder`: ``z_mode="memory"`` projects z to ``z_memory_slots`` vectors that every
  layer cross-attends to; ``"prefix"`` projects z to one extra token in front of ``<bos>`` that the
  causal self-attention sees (as in prefix-conditioned LMs); ``"both"`` does both; and
  ``z_add_embeddings`` adds a projection of z to every input embedding (Li et al. 2020, Optimus,
  "embedding" injection).
"""
from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn as nn
from torch import Tensor

from textgen.vae.configuration import SentenceVAEConfig
from textgen.vae.encoders import Block, PositionalEmbedding, _rnn_class

__all__ = ["OutputHead", "RNNDecoder", "TransformerDecoder", "build_decoder"]


class OutputHead(nn.Module):
    """Dropout, then the projection to the vocabulary.

    With ``tie_embeddings`` the projection's weight is the decoder's input embedding (Press & Wolf 2017;
    Inan et al. 2017); when the decoder's width differs from ``embed_size`` a Linear bottleneck
    ``width -> embed_size`` comes first so that the two can be tied.
    """

    def __init__(self, width: int, config: "SentenceVAEConfig", embedding: nn.Embedding):
        super().__init__()
        c = config
        self.dropout = nn.Dropout(c.dropout)
        tie = c.tie_embeddings
        self.bottleneck = nn.Linear(width, c.embed_size) if tie and width != c.embed_size else nn.Identity()
        self.proj = nn.Linear(c.embed_size if tie else width, c.vocab_size)
        if tie:
            self.proj.weight = embedding.weight

    def forward(self, features: Tensor) -> Tensor:
        return self.proj(self.bottleneck(self.dropout(features)))


class RNNDecoder(nn.Module):
    """LSTM/GRU decoder; z sets the initial state and/or is concatenated to every input step."""

    def __init__(self, config: "SentenceVAEConfig", embedding: nn.Embedding, code_size: int):
        super().__init__()
        c = config
        self.kind = c.decoder
        self.num_layers = c.decoder_layers
        self.hidden_size = c.hidden_size
        self.use_z = c.mode != "lm"
        self.z_init = self.use_z and c.z_init_state
        self.z_concat = self.use_z and c.z_concat_input
        self.z_tanh = c.z_init_activation == "tanh"
        self.embedding = embedding
        self.embed_dropout = nn.Dropout(c.embed_dropout)
        in_size = c.embed_size + (code_size if self.z_concat else 0)
        self.rnn = _rnn_class(c.decoder)(
            in_size, c.hidden_size, num_layers=c.decoder_layers,
            dropout=c.dropout if c.decoder_layers > 1 else 0.0, batch_first=True,
        )
        n_states = 2 if c.decoder == "lstm" else 1                                 # (h, c) or h
        self.z_to_state = nn.Linear(code_size, n_states * c.decoder_layers * c.hidden_size) if self.z_init else None
        self.head = OutputHead(c.hidden_size, c, embedding)

    def initial_state(self, z: Optional[Tensor]) -> Any:
        """``None`` (zeros) or, from z, (L, B, H) for a GRU / a pair of them for an LSTM."""
        if self.z_to_state is None:
            return None
        B = z.size(0)
        s = self.z_to_state(z).view(B, -1, self.num_layers, self.hidden_size)      # (B, 1|2, L, H)
        s = s.permute(1, 2, 0, 3).contiguous()                                      # (1|2, L, B, H)
        h = torch.tanh(s[0]) if self.z_tanh else s[0]                               # (L, B, H)
        return (h, s[1]) if self.kind == "lstm" else h

    def _inputs(self, tokens: Tensor, z: Optional[Tensor]) -> Tensor:
        x = self.embed_dropout(self.embedding(tokens))                              # (B, T, E)
        if self.z_concat:
            x = torch.cat([x, z[:, None, :].expand(-1, x.size(1), -1).to(x.dtype)], dim=-1)  # (B, T, E+Z)
        return x

    def forward(self, inputs: Tensor, z: Optional[Tensor]) -> Tensor:
        # No packing: padding comes after the real tokens, so it cannot change their outputs, and one
        # dense call is faster than packing on the CPU; pad positions are dropped before the head.
        out, _ = self.rnn(self._inputs(inputs, z), self.initial_state(z))           # (B, T, H)
        return out

    # -- incremental decoding
    def start(self, z: Optional[Tensor], n: int) -> dict:
        return {"hidden": self.initial_state(z), "z": z}

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        out, hidden = self.rnn(self._inputs(tokens[:, None], state["z"]), state["hidden"])  # (N, 1, H)
        return out[:, 0], {"hidden": hidden, "z": state["z"]}

    @staticmethod
    def reorder(state: dict, index: Tensor) -> dict:
        h = state["hidden"]
        if isinstance(h, tuple):
            h = tuple(t.index_select(1, index) for t in h)                          # (L, N, H): batch on dim 1
        elif h is not None:
            h = h.index_select(1, index)
        z = state["z"].index_select(0, index) if state["z"] is not None else None
        return {"hidden": h, "z": z}


class TransformerDecoder(nn.Module):
    """Causal Transformer decoder; z enters as cross-attention memory, a prefix token and/or added to embeddings."""

    def __init__(self, config: "SentenceVAEConfig", embedding: nn.Embedding, code_size: int):
        super().__init__()
        c = config
        D = c.hidden_size
        use_z = c.mode != "lm"
        self.memory_slots = c.z_memory_slots
        self.z_memory = nn.Linear(code_size, c.z_memory_slots * D) if use_z and c.z_mode in ("memory", "both") else None
        self.z_prefix = nn.Linear(code_size, D) if use_z and c.z_mode in ("prefix", "both") else None
        self.z_embed = nn.Linear(code_size, D) if use_z and c.z_add_embeddings else None
        self.embedding = embedding
        self.in_proj = nn.Linear(c.embed_size, D) if c.embed_size != D else nn.Identity()
        self.pos = PositionalEmbedding(c.positional, c.max_length + 1, D)
        self.embed_dropout = nn.Dropout(c.embed_dropout)
        self.blocks = nn.ModuleList(
            Block(D, c.num_heads, c.ff_size, c.dropout, cross_attention=self.z_memory is not None)
            for _ in range(c.decoder_layers)
        )
        self.ln_f = nn.LayerNorm(D)
        self.head = OutputHead(D, c, embedding)

    def _memory(self, z: Optional[Tensor]) -> Optional[Tensor]:
        if self.z_memory is None:
            return None
        return self.z_memory(z).view(z.size(0), self.memory_slots, -1)             # (B, M, D)

    def _embed(self, tokens: Tensor, z_add: Optional[Tensor], start: int) -> Tensor:
        x = self.in_proj(self.embedding(tokens))                                    # (B, T, D)
        if z_add is not None:
            x = x + z_add[:, None, :]
        return x + self.pos(start, tokens.size(1))

    def forward(self, inputs: Tensor, z: Optional[Tensor]) -> Tensor:
        z_add = self.z_embed(z) if self.z_embed is not None else None               # (B, D)
        offset = 1 if self.z_prefix is not None else 0
        x = self._embed(inputs, z_add, offset)                                      # (B, T, D)
        if self.z_prefix is not None:
            prefix = self.z_prefix(z)[:, None, :] + self.pos(0, 1)                  # (B, 1, D)
            x = torch.cat([prefix.to(x.dtype), x], dim=1)                           # (B, 1+T, D)
        x = self.embed_dropout(x)
        memory = self._memory(z)
        # Padding sits after the real tokens, so the causal mask alone keeps it out of real positions.
        for block in self.blocks:
            x, _ = block(x, causal=True, memory=memory)
        return self.ln_f(x[:, offset:])                                             # (B, T, D)

    # -- incremental decoding with a key/value cache
    def _run_cached(self, x: Tensor, state: dict) -> Tensor:
        caches = state["cache"]
        new = []
        for block, cache in zip(self.blocks, caches):
            x, kv = block(x, memory=state["memory"], cache=cache)
            new.append(kv)
        state["cache"] = new
        return x

    def start(self, z: Optional[Tensor], n: int) -> dict:
        state = {
            "cache": [None] * len(self.blocks),
            "memory": self._memory(z),
            "z_add": self.z_embed(z) if self.z_embed is not None else None,
            "pos": 0,
        }
        if self.z_prefix is not None:
            prefix = self.z_prefix(z)[:, None, :] + self.pos(0, 1)                  # (N, 1, D)
            self._run_cached(self.embed_dropout(prefix), state)
            state["pos"] = 1
        return state

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        state = dict(state)
        x = self.embed_dropout(self._embed(tokens[:, None], state["z_add"], state["pos"]))  # (N, 1, D)
        x = self._run_cached(x, state)
        state["pos"] += 1
        return self.ln_f(x[:, 0]), state                                            # (N, D)

    @staticmethod
    def reorder(state: dict, index: Tensor) -> dict:
        def sel(t: Optional[Tensor]) -> Optional[Tensor]:
            return None if t is None else t.index_select(0, index)

        return {
            "cache": [None if kv is None else (sel(kv[0]), sel(kv[1])) for kv in state["cache"]],
            "memory": sel(state["memory"]),
            "z_add": sel(state["z_add"]),
            "pos": state["pos"],
        }


def build_decoder(config: "SentenceVAEConfig", embedding: nn.Embedding, code_size: int) -> nn.Module:
    """The decoder p(x | code) of ``config.decoder``; ``code_size`` is what it reads where z goes: latent_size,
    plus the label embedding's size for a conditional VAE (the code is then [z, y])."""
    if config.decoder == "transformer":
        return TransformerDecoder(config, embedding, code_size)
    return RNNDecoder(config, embedding, code_size)
