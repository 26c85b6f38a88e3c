"""Stream an offline dataset from its shards into a fixed-size device replay buffer.

A dataset that fits in `capacity` rows is loaded once, shard by shard (the host
holds one block of windows at a time, never the whole dataset). A larger one is
a stream of blocks (a shard's window range × all its slices) in an order
shuffled afresh on every pass; the trainer writes `refresh` more rows into the
ring buffer before each episode, overwriting the oldest. The buffer after R rows
written is a pure function of R (the ring holds stream rows R − capacity .. R − 1
at positions row mod capacity), so a resumed run rebuilds it exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np

from difsched_jax.agents.dql.replay import Batch, ReplayBuffer, replay_add, replay_init
from difsched_jax.config import check_positive_int
from difsched_jax.data.agent_arrays import AGENT_FIELDS, agent_arrays_from
from difsched_jax.data.loader import OfflineDataset

BLOCK_ROWS = 1 << 16  # rows read per block (window range of one shard × its slices)


class OfflineStream:
    """Rows of `dataset` as agent batches, in blocks; `executed`: the granted allocation
    as the action (see `DQLRunConfig.executed_action`), else the requested one."""

    def __init__(self, dataset: OfflineDataset, capacity: int, executed: bool = True, seed=0):
        check_positive_int("offline buffer capacity", capacity)
        self.dataset = dataset
        self.rows = dataset.num_transitions
        self.capacity = min(capacity, self.rows)
        self.executed = executed
        self.seed = seed
        self.fields = [f for f in AGENT_FIELDS if f in dataset.fields]
        # blocks: (shard index, first window, last window + 1), each <= BLOCK_ROWS rows
        self.blocks = []
        for i, shard in enumerate(dataset.shards):
            slices = shard.slice_stop - shard.slice_start
            step = max(1, BLOCK_ROWS // slices)
            for w0 in range(shard.window_start, shard.window_stop, step):
                self.blocks.append((i, w0, min(w0 + step, shard.window_stop)))

    @property
    def fits(self) -> bool:
        """Does the whole dataset sit in the buffer (no refreshes needed)?"""
        return self.capacity == self.rows

    def _block_rows(self, block) -> int:
        i, w0, w1 = block
        shard = self.dataset.shards[i]
        return (w1 - w0) * (shard.slice_stop - shard.slice_start)

    def _order(self, epoch: int) -> list:
        """Blocks of pass `epoch`: stored order for a dataset that fits, else shuffled."""
        if self.fits:
            return self.blocks
        perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.blocks))
        return [self.blocks[j] for j in perm]

    def _read(self, block) -> Batch:
        i, w0, w1 = block
        shard = self.dataset.shards[i]
        rel = slice(w0 - shard.window_start, w1 - shard.window_start)
        arrays = self.dataset.open_shard(shard, self.fields)
        a = agent_arrays_from(
            {k: v[rel] for k, v in arrays.items()}, self.dataset.budget, self.dataset.window
        )
        return Batch(
            obs=jnp.asarray(a["state"]),
            action=jnp.asarray(a["granted" if self.executed else "action"]),
            reward=jnp.asarray(a["reward"]),
            next_obs=jnp.asarray(a["next_state"]),
            done=jnp.asarray(a["done"]),
        )

    def _stream(self, start: int) -> Iterator[Batch]:
        """Stream rows from row `start` on (counted over passes), block by block."""
        epoch, row = 0, 0
        while True:
            for block in self._order(epoch):
                n = self._block_rows(block)
                if row + n > start:
                    batch = self._read(block)
                    skip = max(0, start - row)
                    yield batch if skip == 0 else _rows(batch, slice(skip, None))
                row += n
            epoch += 1

    def _write(self, buf: ReplayBuffer, start: int, count: int) -> ReplayBuffer:
        """Write stream rows start .. start + count − 1 into the ring."""
        left = count
        for batch in self._stream(start):
            take = min(left, int(batch.reward.shape[0]))
            buf = replay_add(buf, _rows(batch, slice(0, take)))
            left -= take
            if left == 0:
                return buf
        raise AssertionError("unreachable: the stream is endless")

    def buffer_after(self, rows_written: int) -> ReplayBuffer:
        """The ring buffer after `rows_written` ≥ capacity stream rows (exact on resume)."""
        first = max(0, rows_written - self.capacity)
        n = self.dataset.num_users
        buf = replay_init(self.capacity, n, n)
        # start writing at ring position first mod capacity, as the run did
        buf = buf.replace(ptr=jnp.int32(first % self.capacity))
        buf = self._write(buf, first, rows_written - first)
        return buf.replace(size=jnp.int32(self.capacity))

    def refresh(self, buf: ReplayBuffer, rows_written: int, count: int) -> ReplayBuffer:
        """Write the next `count` stream rows (after `rows_written`) over the oldest."""
        if self.fits or count == 0:
            return buf
        return self._write(buf, rows_written, count)


def _rows(batch: Batch, which: slice) -> Batch:
    return jax.tree.map(lambda x: x[which], batch)
