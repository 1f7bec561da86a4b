"""CompactRange, the right frontier a store keeps: the same blocks and roots as MemoryTree,
a byte form that round-trips, and proofs over the blocks it hands out that verify."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.errors import (
    ConsistencyProofInvalid,
    InclusionProofInvalid,
    MerkleInputError,
)
from clearinghouse.protocol.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Block,
    CompactRange,
    MemoryTree,
    consistency_proof_from,
    inclusion_proof_from,
    leaf_hash,
    root_from,
    root_hash,
    verify_consistency,
    verify_inclusion,
)


def _leaves(size: int, salt: int = 0) -> list[bytes]:
    return [hashlib.sha256(b"%d/%d" % (salt, i)).digest() for i in range(size)]


class BlockStore:
    """A store fed only by ``CompactRange.append``: leaves and blocks by (level, index), as
    ``node.storage.auditlog`` keeps them. Answers complete aligned blocks, nothing else."""

    def __init__(self) -> None:
        self.range = CompactRange()
        self.blocks: dict[tuple[int, int], bytes] = {}
        self.roots = [EMPTY_ROOT]  # root by size

    def append(self, leaf: bytes) -> list[Block]:
        blocks = self.range.append(leaf)
        for block in blocks:
            assert (block.level, block.index) not in self.blocks
            self.blocks[(block.level, block.index)] = block.hash
        self.roots.append(self.range.root())
        return blocks

    def subtree(self, start: int, end: int) -> bytes:
        width = end - start
        assert width > 0 and width & (width - 1) == 0 and start % width == 0, (start, end)
        return self.blocks[(width.bit_length() - 1, start // width)]


def _frontier(tree: MemoryTree, size: int) -> list[bytes]:
    """The maximal complete aligned blocks of the first ``size`` leaves, largest first."""
    out, start = [], 0
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            out.append(tree.subtree(start, start + (1 << bit)))
            start += 1 << bit
    return out


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 1100), st.integers(0, 2**32))
def test_same_blocks_and_roots_as_memory_tree(size: int, salt: int) -> None:
    compact, tree = CompactRange(), MemoryTree()
    for i, leaf in enumerate(_leaves(size, salt)):
        assert compact.append(leaf) == tree.append(leaf)
        assert compact.size == tree.size == i + 1
        assert compact.root() == tree.root()
        assert len(compact.hashes) == compact.size.bit_count()
    assert compact.hashes == tuple(_frontier(tree, size))
    assert compact.root() == root_from(tree, size)
    if size == 0:
        assert compact.root() == EMPTY_ROOT and compact.hashes == ()


def test_roots_match_the_rfc_over_entries() -> None:
    entries = [b"entry %d" % i for i in range(70)]
    compact = CompactRange()
    for i, entry in enumerate(entries):
        compact.append(leaf_hash(entry))
        assert compact.root() == root_hash(entries[: i + 1])


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 1100), st.integers(0, 1100), st.integers(0, 2**32))
def test_bytes_round_trip_and_resume(size: int, more: int, salt: int) -> None:
    leaves = _leaves(size + more, salt)
    compact = CompactRange()
    for leaf in leaves[:size]:
        compact.append(leaf)
    data = compact.to_bytes()
    assert len(data) == HASH_SIZE * size.bit_count()
    restored = CompactRange.from_bytes(size, data)
    assert (restored.size, restored.hashes, restored.root()) == (
        compact.size,
        compact.hashes,
        compact.root(),
    )
    assert restored.to_bytes() == data
    # A store resumes from the stored bytes: the same blocks as the uninterrupted range.
    for leaf in leaves[size:]:
        assert restored.append(leaf) == compact.append(leaf)
    assert restored.root() == compact.root() == MemoryTree(leaves).root()


def test_copy_is_independent() -> None:
    compact = CompactRange()
    for leaf in _leaves(5):
        compact.append(leaf)
    copy = compact.copy()
    copy.append(_leaves(6)[5])
    assert (compact.size, copy.size) == (5, 6)
    assert compact.root() == MemoryTree(_leaves(5)).root()
    assert copy.root() == MemoryTree(_leaves(6)).root()


def test_constructor_copies_its_hashes() -> None:
    hashes = [bytes(32)]
    compact = CompactRange(1, hashes)
    hashes.append(bytes(32))
    compact.append(bytes(32))
    assert compact.size == 2 and len(compact.hashes) == 1


H = bytes(range(32))


@pytest.mark.parametrize(
    "make",
    [
        lambda: CompactRange(-1, []),
        lambda: CompactRange(-1, [H]),
        lambda: CompactRange(1, []),
        lambda: CompactRange(2, [H, H]),
        lambda: CompactRange(3, [H]),
        lambda: CompactRange(0, [H]),
        lambda: CompactRange(1, [H[:31]]),
        lambda: CompactRange(1, [H + b"\x00"]),
        lambda: CompactRange(3, [H, "x" * 32]),
        lambda: CompactRange.from_bytes(3, H),
        lambda: CompactRange.from_bytes(1, H + H),
        lambda: CompactRange.from_bytes(1, H[:31]),
        lambda: CompactRange.from_bytes(0, H),
        lambda: CompactRange.from_bytes(-1, H),
        lambda: CompactRange.from_bytes(-2, b""),
        lambda: CompactRange().append(H[:31]),
        lambda: CompactRange().append("x" * 32),
    ],
)
def test_invalid_constructions_are_refused(make: Any) -> None:
    with pytest.raises(MerkleInputError):
        make()


def test_a_refused_append_changes_nothing() -> None:
    compact = CompactRange()
    compact.append(H)
    with pytest.raises(MerkleInputError):
        compact.append(b"short")
    assert (compact.size, compact.hashes) == (1, (H,))


# --- proofs over the blocks a CompactRange hands out ---------------------------------------


MAX = 2100


@cache
def _store() -> BlockStore:
    """A store of MAX leaves grown by CompactRange alone; it answers every smaller size too
    (a block, once complete, never changes)."""
    store = BlockStore()
    for leaf in _leaves(MAX, salt=7):
        store.append(leaf)
    return store


@cache
def _reference() -> MemoryTree:
    return MemoryTree(_leaves(MAX, salt=7))


@st.composite
def _index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX))
    return draw(st.integers(0, size - 1)), size


@settings(max_examples=400, deadline=None)
@given(_index_and_size())
def test_inclusion_proofs_from_compact_range_blocks_verify(case: tuple[int, int]) -> None:
    index, size = case
    store = _store()
    proof = inclusion_proof_from(store, index, size)
    verify_inclusion(_leaves(MAX, salt=7)[index], index, size, proof, store.roots[size])
    assert proof == inclusion_proof_from(_reference(), index, size)
    assert store.roots[size] == _reference().root(size) == root_from(store, size)
    with pytest.raises(InclusionProofInvalid):  # and the proof binds the leaf
        verify_inclusion(leaf_hash(b"other"), index, size, proof, store.roots[size])


@st.composite
def _old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, MAX))
    return draw(st.integers(1, new)), new


@settings(max_examples=400, deadline=None)
@given(_old_and_new())
def test_consistency_proofs_from_compact_range_blocks_verify(case: tuple[int, int]) -> None:
    old, new = case
    store = _store()
    proof = consistency_proof_from(store, old, new)
    verify_consistency(old, new, store.roots[old], store.roots[new], proof)
    assert proof == consistency_proof_from(_reference(), old, new)
    if old < new:  # and the proof binds the old root
        with pytest.raises(ConsistencyProofInvalid):
            verify_consistency(old, new, store.roots[old - 1], store.roots[new], proof)


def test_every_block_a_compact_range_hands_out_is_the_mth_of_its_leaves() -> None:
    leaves = _leaves(300, salt=3)
    store = BlockStore()
    for leaf in leaves:
        store.append(leaf)
    tree = MemoryTree(leaves)
    assert len(store.blocks) == 2 * 300 - (300).bit_count()  # every complete aligned block
    for (level, index), value in store.blocks.items():
        assert value == tree.subtree(index << level, (index + 1) << level)
