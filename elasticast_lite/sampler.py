"""Token-budget batches: every training step gets the same number of tokens, not of clips.

The paper (Sec. 2.2) packs a fixed batch of clips first come, first served and notes that
"future work may investigate more sophisticated packing algorithms". With clips from 4 to
30 s, a fixed count of clips gives steps of very different sizes, and rows that end in
padding. This sampler draws clips from a shuffled stream into a look-ahead buffer, packs
the buffer into rows with best-fit decreasing, and hands out the fullest rows, a fixed
number per step. Over an epoch almost every row is full (the table in the README gives
the padding it leaves), every clip is used exactly once, and the steps are dealt to the
ranks of a multi-GPU run so that every rank takes the same number of steps.
"""

from __future__ import annotations

import random

from .packing import plan_rows


class TokenBudgetSampler:
    """Yields lists of sample indices (a batch sampler for ``torch.utils.data.DataLoader``).

    ``lengths``: tokens per sample. A step holds ``tokens_per_step // row_tokens`` rows of at
    most ``row_tokens`` tokens. ``window``: how many steps' worth of samples the look-ahead
    buffer holds (bigger packs tighter). ``rank``/``world_size`` shard the steps across
    processes; call ``set_epoch`` before each epoch to reshuffle.
    """

    def __init__(self, lengths, tokens_per_step: int = 16_384, row_tokens: int = 2048,
                 window: int = 4, shuffle: bool = True, seed: int = 0, rank: int = 0,
                 world_size: int = 1):
        self.lengths = [int(n) for n in lengths]
        if not self.lengths:
            raise ValueError("TokenBudgetSampler needs at least one sample")
        for i, n in enumerate(self.lengths):
            if not 0 < n <= row_tokens:
                raise ValueError(f"sample {i} has {n} tokens; a row holds 1 to {row_tokens}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
        self.rows_per_step = max(1, tokens_per_step // row_tokens)
        self.row_tokens, self.window = row_tokens, window
        self.shuffle, self.seed, self.rank, self.world_size = shuffle, seed, rank, world_size
        self.epoch = 0
        self._cache: tuple[int, list] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def rows(self) -> list[list[list[int]]]:
        """All ranks' steps of this epoch, each a list of rows of sample indices."""
        if self._cache and self._cache[0] == self.epoch:
            return self._cache[1]
        stream = list(range(len(self.lengths)))
        if self.shuffle:
            random.Random(self.seed * 100_003 + self.epoch).shuffle(stream)
        mean = sum(self.lengths) / len(self.lengths)
        buffer_size = max(1, round(self.window * self.rows_per_step * self.row_tokens / mean))
        steps, buffer, pos = [], [], 0
        while pos < len(stream) or buffer:
            take = buffer_size - len(buffer)
            buffer += stream[pos : pos + take]
            pos += take
            plan = plan_rows([self.lengths[i] for i in buffer], self.row_tokens, "bfd")
            plan.sort(key=lambda row: -sum(self.lengths[buffer[j]] for j in row))
            chosen = plan[: self.rows_per_step]
            steps.append([[buffer[j] for j in row] for row in chosen])
            used = {j for row in chosen for j in row}
            buffer = [i for j, i in enumerate(buffer) if j not in used]
        steps = self._deal_evenly(steps)
        self._cache = (self.epoch, steps)
        return steps

    def _deal_evenly(self, steps):
        """Split steps until every rank gets the same number (whole rows move, so rows stay
        full; a one-row step is split by samples)."""
        while len(steps) % self.world_size:
            k = max(range(len(steps)), key=lambda s: (len(steps[s]), sum(map(len, steps[s]))))
            step = steps.pop(k)
            if len(step) > 1:
                half = len(step) // 2
                steps[k:k] = [step[:half], step[half:]]
            elif len(step[0]) > 1:
                row = sorted(step[0], key=lambda i: -self.lengths[i])
                steps[k:k] = [[row[0::2]], [row[1::2]]]
            else:
                raise ValueError(
                    f"{len(self.lengths)} samples cannot give {self.world_size} ranks the "
                    "same number of steps"
                )
        return steps

    def __iter__(self):
        for step in self.rows()[self.rank :: self.world_size]:
            yield [i for row in step for i in row]

    def __len__(self) -> int:
        return len(self.rows()) // self.world_size

    def usage(self) -> dict:
        """Tokens of this epoch (all ranks) when each step is packed into rows with ``bfd``:
        real, padding (rows padded to the longest row of their step) and the padding share."""
        real = padding = 0
        for step in self.rows():
            lengths = [self.lengths[i] for row in step for i in row]
            rows = plan_rows(lengths, self.row_tokens, "bfd")
            width = max(sum(lengths[j] for j in row) for row in rows)
            real += sum(lengths)
            padding += width * len(rows) - sum(lengths)
        return {"steps": len(self.rows()), "real_tokens": real, "padding_tokens": padding,
                "padding_fraction": padding / (real + padding)}
