"""Decoding algorithms, independent of the model: greedy, ancestral sampling (top-k / nucleus), beam search.

They drive a model through two callables:

* ``step(tokens (N,), state) -> (log_probs (N, V), state)`` -- one decoding step; ``log_probs`` are
  the model's normalised log-probabilities (tokens that may never be generated set to ``-inf``);
* ``reorder(state, index (N',)) -> state`` -- select/duplicate rows of the state (beam search).

All of them are batched: greedy and sampling run the N sequences together and stop as soon as every
one has produced ``<eos>``; beam search runs the B x beam hypotheses together as one (B*beam)-row
batch, with no Python loop over examples.

Each returns ``tokens (N, L)`` (padded with ``pad_id`` after ``<eos>``) and ``scores (N,)``: the sum of
the model's log-probabilities of the generated tokens, ``<eos>`` included (untempered, unfiltered, and
without length normalisation even where the search ranked hypotheses with one).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from textgen.core.runtime import multinomial
from torch import Tensor

__all__ = ["filter_logits", "sample_search", "beam_search", "tokens_to_lists"]

StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]
ReorderFn = Callable[[Any, Tensor], Any]


def filter_logits(logits: Tensor, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """Keep the ``top_k`` largest logits (0: all) and the smallest set whose probability reaches ``top_p``.

    Nucleus sampling is Holtzman et al. (2020); top-k is Fan et al. (2018). Removed entries become -inf;
    the most likely token is always kept.
    """
    if top_k > 0 and top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[..., -1:]                          # (N, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)                 # (N, V)
        probs = sorted_logits.softmax(dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs                                  # probability of better tokens
        remove_sorted = mass_before >= top_p
        remove_sorted[..., 0] = False
        remove = remove_sorted.scatter(-1, order, remove_sorted)                    # back to vocabulary order
        logits = logits.masked_fill(remove, float("-inf"))
    return logits


@torch.no_grad()
def sample_search(step: StepFn, state: Any, batch_size: int, *, bos_id: int, eos_id: int, pad_id: int,
                  max_length: int, greedy: bool, top_k: int = 0, top_p: float = 1.0, temperature: float = 1.0,
                  generator: Optional[torch.Generator] = None,
                  device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Greedy (argmax) or ancestral sampling from ``softmax(filter(log_probs / temperature))``."""
    N = batch_size
    tokens = torch.full((N,), bos_id, dtype=torch.long, device=device)
    out = torch.full((N, max_length), pad_id, dtype=torch.long, device=device)
    scores = torch.zeros(N, device=device)
    finished = torch.zeros(N, dtype=torch.bool, device=device)
    for t in range(max_length):
        log_probs, state = step(tokens, state)                                      # (N, V)
        if greedy:
            nxt = log_probs.argmax(dim=-1)                                          # (N,)
        else:
            logits = filter_logits(log_probs / temperature, top_k, top_p)
            nxt = multinomial(logits.softmax(dim=-1), generator)
        nxt = nxt.masked_fill(finished, pad_id)
        scores += log_probs.gather(1, nxt[:, None])[:, 0].masked_fill(finished, 0.0)
        out[:, t] = nxt
        finished |= nxt == eos_id
        if bool(finished.all()):                                                    # one sync per step
            out = out[:, :t + 1]
            break
        tokens = nxt
    return out, scores


@torch.no_grad()
def beam_search(step: StepFn, reorder: ReorderFn, state: Any, batch_size: int, *, beam_size: int,
                bos_id: int, eos_id: int, pad_id: int, max_length: int, length_penalty: float = 1.0,
                device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Batched beam search over B x K hypotheses.

    Hypotheses are ranked by ``sum log p / length ** length_penalty`` (length counts ``<eos>``;
    ``length_penalty=0`` ranks by raw log-probability). Each step takes the 2K best extensions per
    example; an ``<eos>`` extension ranked among the first K moves to the example's pool of K finished
    hypotheses (so ``beam_size=1`` is exactly greedy search for ``length_penalty=0``, as in Hugging Face),
    the K best other extensions stay alive. Hypotheses still alive at ``max_length`` finish truncated.
    An example stops once its K-th finished score beats any score a live hypothesis could still reach
    (scores only decrease, so that bound is exact, for any ``length_penalty``); the search stops when
    all have. Returns the best finished hypothesis per example.
    """
    B, K, L = batch_size, beam_size, max_length
    ninf = float("-inf")
    state = reorder(state, torch.arange(B, device=device).repeat_interleave(K))   # (B*K, ...)
    tokens = torch.full((B * K,), bos_id, dtype=torch.long, device=device)
    alive_scores = torch.full((B, K), ninf, device=device)
    alive_scores[:, 0] = 0.0                                                        # one live beam at first
    alive_seqs = torch.full((B, K, L), pad_id, dtype=torch.long, device=device)
    fin_norm = torch.full((B, K), ninf, device=device)                              # ranking scores
    fin_raw = torch.full((B, K), ninf, device=device)                               # sum of log-probs
    fin_seqs = torch.full((B, K, L), pad_id, dtype=torch.long, device=device)
    offsets = (torch.arange(B, device=device) * K)[:, None]                        # (B, 1)

    def penalty(length: int) -> float:
        return float(length) ** length_penalty

    for t in range(L):
        log_probs, state = step(tokens, state)                                      # (B*K, V)
        V = log_probs.size(-1)
        cand = (alive_scores[:, :, None] + log_probs.float().view(B, K, V)).view(B, K * V)
        n_cand = min(2 * K, K * V)
        top_scores, top_ids = cand.topk(n_cand, dim=-1)                             # (B, 2K), best first
        src = top_ids // V                                                          # source beam
        tok = top_ids % V
        cand_seqs = alive_seqs.gather(1, src[:, :, None].expand(-1, -1, L)).clone()  # (B, 2K, L)
        cand_seqs[:, :, t] = tok

        # Extensions that end the sentence: eos ranked among the first K.
        rank = torch.arange(n_cand, device=device)[None, :]
        is_eos = tok == eos_id
        ends = is_eos & (rank < K) & (top_scores > ninf)
        pool_norm = [fin_norm, torch.where(ends, top_scores / penalty(t + 1), ninf)]
        pool_raw = [fin_raw, top_scores]
        pool_seqs = [fin_seqs, cand_seqs]

        # The K best other extensions stay alive.
        a_scores, a_pos = top_scores.masked_fill(is_eos, ninf).topk(K, dim=-1)      # (B, K)
        a_src, a_tok = src.gather(1, a_pos), tok.gather(1, a_pos)
        a_seqs = cand_seqs.gather(1, a_pos[:, :, None].expand(-1, -1, L))           # (B, K, L)
        if t == L - 1:                                                              # out of room: truncate
            pool_norm.append(a_scores / penalty(t + 1))
            pool_raw.append(a_scores)
            pool_seqs.append(a_seqs)

        all_norm = torch.cat(pool_norm, 1)
        fin_norm, best = all_norm.topk(K, dim=-1)                                   # (B, K)
        fin_raw = torch.cat(pool_raw, 1).gather(1, best)
        fin_seqs = torch.cat(pool_seqs, 1).gather(1, best[:, :, None].expand(-1, -1, L))
        if t == L - 1:
            break

        # Stop an example when no live hypothesis can beat its K-th finished one.
        best_alive = a_scores[:, 0]                                                 # (B,) raw, <= 0
        reach = torch.maximum(best_alive / penalty(t + 2), best_alive / penalty(L))
        done = (fin_norm[:, -1] >= reach) | (best_alive == ninf)
        if bool(done.all()):                                                        # one sync per step
            break
        alive_scores = a_scores.masked_fill(done[:, None], ninf)
        alive_seqs = a_seqs
        state = reorder(state, (offsets + a_src).view(-1))
        tokens = a_tok.view(-1)

    out = fin_seqs[:, 0]                                                            # (B, L)
    used = int((out != pad_id).sum(1).max()) if out.numel() else 0
    return out[:, :max(used, 1)], fin_raw[:, 0]


def tokens_to_lists(tokens: Tensor, eos_id: int, pad_id: int) -> list[list[int]]:
    """Rows of generated ids -> lists, cut at the first ``<eos>`` (excluded), padding dropped."""
    result = []
    for row in tokens.tolist():
        seq = []
        for t in row:
            if t == eos_id:
                break
            if t != pad_id:
                seq.append(t)
        result.append(seq)
    return result
