"""Sentence encoders q(z|x) for the Sentence VAE, and the Transformer blocks shared with the decoders.

Every encoder maps ``(input_ids (B, T), lengths)`` to the parameters of a diagonal Gaussian posterior
``mu, logvar`` of size ``latent_size`` (Kingma & Welling 2014), or to ``mu`` alone for a plain
auto-encoder (``mode="ae"``; then ``logvar`` is ``None``).

* :class:`RNNEncoder` -- LSTM/GRU, optionally bidirectional and multi-layer; padding never enters the
  final states (Bowman et al. 2016 use a single-layer LSTM).
* :class:`TransformerEncoder` -- pre-LayerNorm Transformer (Vaswani et al. 2017) with a key padding
  mask, pooled by a masked mean over tokens or a learned [CLS]-style token (Devlin et al. 2019).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# ``config`` below is a textgen.vae.modeling.SentenceVAEConfig, or any object with its attributes. This module
# imports nothing but torch, so ``textgen export-hf`` ships it unchanged beside exported weights, where
# transformers loads it as remote code in a process without textgen.

__all__ = ["PositionalEmbedding", "Attention", "MLP", "Block", "RNNEncoder", "TransformerEncoder", "build_encoder"]


# ----------------------------------------------------------------------------- Transformer blocks

class PositionalEmbedding(nn.Module):
    """Learned absolute positions (GPT-2) or fixed sinusoids (Vaswani et al. 2017, sec. 3.5).

    The sinusoid table is a non-persistent buffer: it is rebuilt from the config, never saved.
    """

    def __init__(self, kind: str, num_positions: int, dim: int):
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.table = nn.Embedding(num_positions, dim)
            nn.init.normal_(self.table.weight, std=0.02)
        else:
            pos = torch.arange(num_positions, dtype=torch.float32)[:, None]          # (P, 1)
            freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
            table = torch.zeros(num_positions, dim)
            table[:, 0::2] = torch.sin(pos * freq)
            table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
            self.register_buffer("sinusoids", table, persistent=False)

    def forward(self, start: int, length: int) -> Tensor:
        """Embeddings of positions ``start .. start+length-1``: (length, dim)."""
        if self.kind == "learned":
            return self.table.weight[start:start + length]
        return self.sinusoids[start:start + length]


class Attention(nn.Module):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017) on ``F.scaled_dot_product_attention``.

    Self-attention when ``context`` is None, cross-attention otherwise. ``cache`` holds the keys and
    values of earlier positions (incremental decoding); the new ``(k, v)`` are returned.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attn_dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, context: Optional[Tensor] = None, *, mask: Optional[Tensor] = None,
                causal: bool = False, cache: Optional[tuple[Tensor, Tensor]] = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        B, T, D = x.shape
        H = self.num_heads
        ctx = x if context is None else context
        S = ctx.size(1)
        q = self.q(x).view(B, T, H, D // H).transpose(1, 2)                         # (B, H, T, Dh)
        k, v = self.kv(ctx).view(B, S, 2, H, D // H).permute(2, 0, 3, 1, 4)         # 2 x (B, H, S, Dh)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)                                     # (B, H, t+S, Dh)
            v = torch.cat([cache[1], v], dim=2)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal,
            dropout_p=self.attn_dropout if self.training else 0.0,
        )                                                                           # (B, H, T, Dh)
        y = y.transpose(1, 2).reshape(B, T, D)                                      # (B, T, D)
        return self.resid_dropout(self.proj(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, dim: int, ff_size: int, dropout: float):
        super().__init__()
        self.fc = nn.Linear(dim, ff_size)
        self.proj = nn.Linear(ff_size, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm Transformer block (as in GPT-2 / nanoGPT), with optional cross-attention."""

    def __init__(self, dim: int, num_heads: int, ff_size: int, dropout: float, cross_attention: bool = False):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, dropout)
        self.ln_x = nn.LayerNorm(dim) if cross_attention else None
        self.cross = Attention(dim, num_heads, dropout) if cross_attention else None
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, ff_size, dropout)

    def forward(self, x: Tensor, *, mask: Optional[Tensor] = None, causal: bool = False,
                memory: Optional[Tensor] = None,
                cache: Optional[tuple[Tensor, Tensor]] = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        a, kv = self.attn(self.ln_1(x), mask=mask, causal=causal, cache=cache)
        x = x + a
        if self.cross is not None:
            x = x + self.cross(self.ln_x(x), memory)[0]
        x = x + self.mlp(self.ln_2(x))
        return x, kv


# ----------------------------------------------------------------------------- encoders

def _rnn_class(kind: str) -> type[nn.RNNBase]:
    return nn.LSTM if kind == "lstm" else nn.GRU


class RNNEncoder(nn.Module):
    """LSTM/GRU encoder: the final hidden states of the top layer (both directions, concatenated)
    are mapped linearly to ``mu`` and ``logvar`` (Bowman et al. 2016, sec. 3)."""

    def __init__(self, config: "SentenceVAEConfig", embedding: nn.Embedding):
        super().__init__()
        c = config
        self.embedding = embedding
        self.embed_dropout = nn.Dropout(c.embed_dropout)
        self.num_directions = 2 if c.bidirectional else 1
        hidden = c.encoder_hidden_size or c.hidden_size
        self.rnn = _rnn_class(c.encoder)(
            c.embed_size, hidden, num_layers=c.encoder_layers, bidirectional=c.bidirectional,
            dropout=c.dropout if c.encoder_layers > 1 else 0.0, batch_first=True,
        )
        self.dropout = nn.Dropout(c.dropout)
        self.variational = c.mode == "vae"
        out = 2 * c.latent_size if self.variational else c.latent_size
        self.head = nn.Linear(self.num_directions * hidden + _condition_size(c), out)

    def forward(self, input_ids: Tensor, lengths_cpu: Tensor, return_states: bool = False,
                condition: Optional[Tensor] = None):
        """``(mu, logvar)``, each (B, Z) (``logvar`` None for an auto-encoder); with ``return_states`` also the
        top layer's per-token outputs (B, T, H * directions), zeros at padding for a bidirectional RNN.
        ``condition`` (B, C), a conditional VAE's label embedding, joins the summary before the head."""
        B, T = input_ids.shape
        x = self.embed_dropout(self.embedding(input_ids))                           # (B, T, E)
        if self.num_directions == 1:
            # One dense call, then the top layer's output at the last real token: padding comes after
            # it, so this equals the packed final state, and the dense kernel is faster than packing.
            states, _ = self.rnn(x)                                                 # (B, T, H)
            last = (lengths_cpu - 1).to(x.device, non_blocking=True)               # (B,)
            h = states[torch.arange(B, device=x.device), last]                      # (B, H)
        else:
            # The backward direction must start at each sentence's own last token: pack.
            packed = pack_padded_sequence(x, lengths_cpu, batch_first=True, enforce_sorted=False)
            out, h_n = self.rnn(packed)
            if isinstance(h_n, tuple):                                              # LSTM: (h_n, c_n)
                h_n = h_n[0]
            h_n = h_n.view(-1, 2, B, h_n.size(-1))[-1]                              # (2, B, H) top layer
            h = h_n.transpose(0, 1).reshape(B, -1)                                  # (B, 2H)
            states = pad_packed_sequence(out, batch_first=True, total_length=T)[0] if return_states else None
        h = self.dropout(h)
        if condition is not None:
            h = torch.cat([h, condition.to(h.dtype)], dim=-1)                       # (B, H' + C): q(z | x, y)
        out = self.head(h)                                                          # (B, 2Z) or (B, Z)
        mu, logvar = (out, None) if not self.variational else out.chunk(2, dim=-1)  # (B, Z) each
        return (mu, logvar, states) if return_states else (mu, logvar)


class TransformerEncoder(nn.Module):
    """Transformer encoder with a key padding mask, pooled by masked mean or a learned [CLS] token."""

    def __init__(self, config: "SentenceVAEConfig", embedding: nn.Embedding):
        super().__init__()
        c = config
        D = c.hidden_size
        self.embedding = embedding
        self.in_proj = nn.Linear(c.embed_size, D) if c.embed_size != D else nn.Identity()
        self.pos = PositionalEmbedding(c.positional, c.max_length + 1, D)
        self.embed_dropout = nn.Dropout(c.embed_dropout)
        self.pooling = c.pooling
        self.cls = nn.Parameter(torch.randn(1, 1, D) * 0.02) if c.pooling == "cls" else None
        self.blocks = nn.ModuleList(Block(D, c.num_heads, c.ff_size, c.dropout) for _ in range(c.encoder_layers))
        self.ln_f = nn.LayerNorm(D)
        self.variational = c.mode == "vae"
        self.head = nn.Linear(D + _condition_size(c), 2 * c.latent_size if self.variational else c.latent_size)

    def forward(self, input_ids: Tensor, lengths_cpu: Tensor, return_states: bool = False,
                condition: Optional[Tensor] = None):
        """``(mu, logvar)`` as :class:`RNNEncoder`; with ``return_states`` also the final per-token states (B, T, D)."""
        B, T = input_ids.shape
        lengths = lengths_cpu.to(input_ids.device, non_blocking=True)
        x = self.in_proj(self.embedding(input_ids))                                 # (B, T, D)
        keep = torch.arange(T, device=input_ids.device)[None, :] < lengths[:, None]  # (B, T) real tokens
        if self.cls is not None:
            x = torch.cat([self.cls.expand(B, -1, -1), x], dim=1)                   # (B, 1+T, D)
            keep = torch.cat([keep.new_ones(B, 1), keep], dim=1)                    # (B, 1+T)
        x = self.embed_dropout(x + self.pos(0, x.size(1)))
        mask = keep[:, None, None, :]                                               # (B, 1, 1, S) keys to attend
        for block in self.blocks:
            x, _ = block(x, mask=mask)
        x = self.ln_f(x)                                                            # (B, S, D)
        if self.cls is not None:
            h = x[:, 0]                                                             # (B, D)
        else:
            w = keep.to(x.dtype)[..., None]                                         # (B, T, 1)
            h = (x * w).sum(1) / w.sum(1)                                           # (B, D) masked mean
        if condition is not None:
            h = torch.cat([h, condition.to(h.dtype)], dim=-1)                       # (B, D + C): q(z | x, y)
        out = self.head(h)
        mu, logvar = (out, None) if not self.variational else out.chunk(2, dim=-1)  # (B, Z) each
        if return_states:
            return mu, logvar, (x[:, 1:] if self.cls is not None else x)            # (B, T, D)
        return mu, logvar


def _condition_size(config: "SentenceVAEConfig") -> int:
    return config.condition.size if config.condition is not None else 0


def build_encoder(config: "SentenceVAEConfig", embedding: nn.Embedding) -> nn.Module:
    if config.encoder == "transformer":
        return TransformerEncoder(config, embedding)
    return RNNEncoder(config, embedding)
