"""RFC 9162 §2.1 Merkle hash trees: tree hashes, proofs and their verification.

RFC 9162 (= RFC 6962) hashing: leaf = SHA-256(0x00 || entry), node =
SHA-256(0x01 || left || right), empty tree = SHA-256(""). Math only: no storage.

- §2.1.1 MTH: :func:`root_hash`, :func:`root_from_leaf_hashes` (iterative, O(n)).
- §2.1.3.1 PATH, §2.1.4.1 PROOF as the RFC's recursion over the entries, O(n):
  :func:`inclusion_proof`, :func:`consistency_proof`; the same from a subtree-hash
  source in O(log n): :func:`inclusion_proof_from`, :func:`consistency_proof_from`.
- §2.1.3.2, §2.1.4.2: :func:`verify_inclusion`, :func:`verify_consistency`.

How a store answers proofs without the entries
----------------------------------------------
Every node of an RFC 9162 tree is a *complete aligned block* (the MTH of leaves
``[j * 2**k, (j + 1) * 2**k)``, a perfect subtree) or lies on the incomplete right
edge, where ``[start, size)`` splits into blocks of decreasing powers of two and
MTH = node(b1, node(b2, ...)). So a store keeps, for every level ``k``, the hash of
each complete block of ``2**k`` leaves (as C2SP tlog-tiles does, grouped in tiles);
a block never changes once complete, and appending completes O(1) amortised blocks
(:func:`completed_blocks`). The ``*_from`` functions ask :class:`SubtreeHashes`
only for complete aligned blocks, about 2·log2(n) at most, and compose the right
edge themselves. :class:`MemoryTree` is the in-memory reference store.

Errors: :class:`MerkleInputError` (a question the tree cannot answer),
:class:`InclusionProofInvalid`, :class:`ConsistencyProofInvalid` (naming the check).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from clearinghouse.protocol.errors import (
    ConsistencyProofInvalid,
    InclusionProofInvalid,
    MerkleInputError,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Block",
    "CompactRange",
    "MemoryTree",
    "SubtreeHashes",
    "completed_blocks",
    "consistency_proof",
    "consistency_proof_from",
    "inclusion_proof",
    "inclusion_proof_from",
    "leaf_hash",
    "node_hash",
    "root_from",
    "root_from_leaf_hashes",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the hash of one log entry (RFC 9162 §2.1.1)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node (RFC 9162 §2.1.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``): the RFC's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: bytes, what: str, error: type[Exception]) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes) else type(value).__name__
        raise error(f"{what} must be {HASH_SIZE} bytes, got {size}")


def _fold(hashes: Sequence[bytes]) -> bytes:
    """node(h0, node(h1, ... node(h_{n-2}, h_{n-1}))): the right edge over its blocks."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes, streaming: O(n) time, O(log n) memory, no recursion.

    Raises :class:`MerkleInputError` if a leaf hash is not 32 bytes.
    """
    # The stack holds complete blocks, one per one-bit of the count, largest first.
    stack: list[bytes] = []
    count = 0
    for h in leaf_hashes:
        _check_hash(h, "leaf hash", MerkleInputError)
        count += 1
        node, c = h, count
        while c & 1 == 0:
            node = node_hash(stack.pop(), node)
            c >>= 1
        stack.append(node)
    return _fold(stack) if stack else EMPTY_ROOT


def root_hash(entries: Iterable[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 §2.1.1 over the entries; :data:`EMPTY_ROOT` for none."""
    return root_from_leaf_hashes(leaf_hash(e) for e in entries)


def inclusion_proof(entries: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1, leaf to root. O(n).

    Raises :class:`MerkleInputError` unless ``0 <= index < len(entries)``.
    """
    if not 0 <= index < len(entries):
        raise MerkleInputError(f"no leaf {index} in a tree of size {len(entries)}")
    return _path(index, [leaf_hash(e) for e in entries])


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, leaves[:k]), root_from_leaf_hashes(leaves[k:])]
    return [*_path(m - k, leaves[k:]), root_from_leaf_hashes(leaves[:k])]


def consistency_proof(entries: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1 (empty when ``old_size == n``). O(n).

    Raises :class:`MerkleInputError` unless ``0 < old_size <= len(entries)``: a
    proof from the empty tree proves nothing and :func:`verify_consistency` refuses it.
    """
    if not 0 < old_size <= len(entries):
        raise MerkleInputError(f"no consistency proof from {old_size} to {len(entries)}")
    return _subproof(old_size, [leaf_hash(e) for e in entries], True)


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_from_leaf_hashes(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root_from_leaf_hashes(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root_from_leaf_hashes(leaves[:k])]


class SubtreeHashes(Protocol):
    """A source of subtree hashes, such as a store of complete aligned blocks."""

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of ``[start, end)``; this module only asks for complete aligned blocks
        (``end - start`` a power of two, ``start`` a multiple of it, ``end <= size``)."""
        ...


@dataclass(frozen=True, slots=True)
class Block:
    """A complete aligned block: the MTH of leaves ``[index << level, (index + 1) << level)``."""

    level: int
    index: int
    hash: bytes


def _blocks(start: int, end: int) -> Iterator[tuple[int, int]]:
    """Split an RFC 9162 subtree ``[start, end)`` into complete aligned blocks, largest first."""
    while start < end:
        width = 1 << ((end - start).bit_length() - 1)
        yield start, start + width
        start += width


def _mth(source: SubtreeHashes, start: int, end: int) -> bytes:
    hashes = []
    for a, b in _blocks(start, end):
        h = source.subtree(a, b)
        _check_hash(h, f"subtree [{a}, {b}) from the source", MerkleInputError)
        hashes.append(h)
    return _fold(hashes)


def root_from(source: SubtreeHashes, size: int) -> bytes:
    """MTH of the first ``size`` leaves of ``source``, from at most log2(size) + 1 blocks."""
    if size < 0:
        raise MerkleInputError(f"negative tree size {size}")
    return _mth(source, 0, size) if size else EMPTY_ROOT


def inclusion_proof_from(source: SubtreeHashes, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 §2.1.3.1) from complete aligned blocks.

    The RFC's recursion, top-down: left siblings are complete blocks, at most one
    right sibling is on the right edge. :class:`MerkleInputError` unless 0 <= index < size."""
    if not 0 <= index < size:
        raise MerkleInputError(f"no leaf {index} in a tree of size {size}")
    lo, hi, path = 0, size, []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(_mth(source, lo + k, hi))
            hi = lo + k
        else:
            path.append(_mth(source, lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_proof_from(source: SubtreeHashes, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1) from complete aligned blocks.

    Raises :class:`MerkleInputError` unless ``0 < old_size <= new_size``."""
    if not 0 < old_size <= new_size:
        raise MerkleInputError(f"no consistency proof from {old_size} to {new_size}")
    lo, hi, complete, proof = 0, new_size, True, []
    while old_size != hi:  # SUBPROOF(m, D[lo:hi], complete) with m = old_size - lo
        k = _split(hi - lo)
        if old_size - lo <= k:
            proof.append(_mth(source, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(source, lo, lo + k))
            lo, complete = lo + k, False
    if not complete:
        proof.append(_mth(source, lo, hi))
    proof.reverse()
    return proof


def completed_blocks(source: SubtreeHashes, size: int, leaf: bytes) -> list[Block]:
    """The blocks completed by appending ``leaf`` at index ``size``, lowest level first.

    ``source`` holds the blocks of the first ``size`` leaves; a store saves the
    returned ones. One lookup and one hash per completed level."""
    _check_hash(leaf, "leaf hash", MerkleInputError)
    blocks, node, end, level = [Block(0, size, leaf)], leaf, size + 1, 0
    while end % (2 << level) == 0:
        width = 1 << level
        left = source.subtree(end - 2 * width, end - width)
        _check_hash(left, "subtree from the source", MerkleInputError)
        node = node_hash(left, node)
        level += 1
        blocks.append(Block(level, (end >> level) - 1, node))
    return blocks


class MemoryTree:
    """In-memory reference store: the hash of every complete aligned block, per level.

    ``append`` is O(1) amortised, O(log n) at worst; ``subtree`` is a lookup."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def append(self, leaf_hash: bytes) -> list[Block]:
        """Add one leaf hash; return the blocks it completed (see :func:`completed_blocks`)."""
        blocks = completed_blocks(self, self.size, leaf_hash)
        for block in blocks:
            if block.level == len(self._levels):
                self._levels.append([])
            self._levels[block.level].append(block.hash)
        return blocks

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of a complete aligned block or right-edge range; else :class:`MerkleInputError`."""
        width = end - start
        if 0 <= start < end <= self.size and width & (width - 1) == 0 and start % width == 0:
            return self._levels[width.bit_length() - 1][start // width]
        if 0 <= start < end == self.size and start % (1 << (width - 1).bit_length()) == 0:
            return _mth(self, start, end)
        raise MerkleInputError(f"[{start}, {end}) is not a subtree of a tree of size {self.size}")

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all by default)."""
        size = self.size if size is None else size
        if size > self.size:
            raise MerkleInputError(f"tree has {self.size} leaves, not {size}")
        return root_from(self, size)


class CompactRange:
    """The right frontier of a tree: the hashes of its maximal complete aligned blocks.

    For a tree of ``size`` leaves that is one block per set bit of ``size``, largest
    first: enough to append (:meth:`append` returns the blocks each leaf completes,
    as :func:`completed_blocks` does) and to compute the root, in O(log n) space.
    A store keeps it beside the log so that an append needs no lookups.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise MerkleInputError(
                f"a compact range of size {size} has {size.bit_count()} hashes, not {len(hashes)}"
            )
        for i, h in enumerate(hashes):
            _check_hash(h, f"compact range hash {i}", MerkleInputError)
        self._size = size
        self._hashes = list(hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> CompactRange:
        """The range stored as the concatenation of its hashes (see :meth:`to_bytes`)."""
        if len(data) != HASH_SIZE * size.bit_count():
            raise MerkleInputError(f"stored compact range of size {size} has {len(data)} bytes")
        return cls(size, [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)])

    def to_bytes(self) -> bytes:
        return b"".join(self._hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[Block]:
        """Add one leaf hash; return the blocks it completed, lowest level first."""
        _check_hash(leaf_hash, "leaf hash", MerkleInputError)
        index, node, level = self._size, leaf_hash, 0
        blocks = [Block(0, index, leaf_hash)]
        end = index + 1
        while end % (2 << level) == 0:
            node = node_hash(self._hashes.pop(), node)
            level += 1
            blocks.append(Block(level, (end >> level) - 1, node))
        self._hashes.append(node)
        self._size = end
        return blocks

    def root(self) -> bytes:
        """MTH of all the leaves appended so far."""
        return _fold(self._hashes) if self._hashes else EMPTY_ROOT

    def copy(self) -> CompactRange:
        return CompactRange(self._size, self._hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. An inclusion proof does not by itself bind ``size``: take
    ``size`` and ``root`` from the same verified checkpoint.
    Raises :class:`InclusionProofInvalid`, naming the failed check.
    """
    # Plan: (0) every hash is 32 bytes; then RFC 9162 §2.1.3.2 steps (1)-(5).
    # (0): SHA-256 hashes only.
    _check_hash(leaf_hash, "leaf hash", InclusionProofInvalid)
    _check_hash(root, "root hash", InclusionProofInvalid)
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]", InclusionProofInvalid)
    # (1): leaf_index must be less than tree_size.
    if not 0 <= index < size:
        raise InclusionProofInvalid(f"leaf index {index} is not in a tree of size {size}")
    # (2): fn = leaf_index, sn = tree_size - 1.  (3): r = hash.
    fn, sn, r = index, size - 1, leaf_hash
    # (4): fold in each proof hash p.
    for p in proof:
        # (4a): a proof hash left over once sn reached 0 means the proof is too long.
        if sn == 0:
            raise InclusionProofInvalid(f"proof too long for leaf {index} of size {size}")
        # (4b): p is a left sibling if fn is a right child or on the right edge.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:  # (4b ii): skip the right edge's missing levels
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        # (4c): go up one level.
        fn, sn = fn >> 1, sn >> 1
    # (5): the path reached the top and the computed root is the expected one.
    if sn != 0:
        raise InclusionProofInvalid(f"proof too short for leaf {index} of size {size}")
    if r != root:
        raise InclusionProofInvalid("computed root does not match the expected root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``).

    RFC 9162 §2.1.4.2 for ``0 < old_size < new_size``; with the transparency-dev
    conventions, ``old_size == 0`` is refused and ``old_size == new_size`` passes
    only with an empty proof and equal roots. Raises :class:`ConsistencyProofInvalid`.
    """
    # Plan: (0a) 0 < old_size <= new_size, (0b) equal sizes, (0c) 32-byte hashes, (1)-(7).
    # (0a): sizes in order.
    if old_size <= 0:
        raise ConsistencyProofInvalid(f"old size {old_size}: consistency needs a non-empty tree")
    if old_size > new_size:
        raise ConsistencyProofInvalid(f"old size {old_size} is larger than new size {new_size}")
    # (0b): same size: same tree, nothing to prove.
    if old_size == new_size:
        if proof:
            raise ConsistencyProofInvalid("sizes are equal but the proof is not empty")
        if old_root != new_root:
            raise ConsistencyProofInvalid(f"roots of the same size {old_size} differ")
        return
    # (0c): inputs are SHA-256 hashes.
    _check_hash(old_root, "old root", ConsistencyProofInvalid)
    _check_hash(new_root, "new root", ConsistencyProofInvalid)
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]", ConsistencyProofInvalid)
    # (1): an empty proof cannot link two different sizes.
    if not proof:
        raise ConsistencyProofInvalid("proof is empty")
    # (2): if first is an exact power of 2, prepend first_hash.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # (3): fn = first - 1, sn = second - 1.
    fn, sn = old_size - 1, new_size - 1
    # (4): while LSB(fn) is set, shift both right.
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # (5): fr = sr = the first value of the path.
    fr = sr = path[0]
    # (6): fold in each subsequent value c.
    for c in path[1:]:
        # (6a): a value left over once sn reached 0 means the proof is too long.
        if sn == 0:
            raise ConsistencyProofInvalid(f"proof too long for sizes {old_size}, {new_size}")
        # (6b): c is a left sibling of both paths, or a right sibling of the new one only.
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:  # (6b iii): skip the right edge's missing levels
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        # (6c): go up one level.
        fn, sn = fn >> 1, sn >> 1
    # (7): both roots recomputed and the new path reached the top.
    if sn != 0:
        raise ConsistencyProofInvalid(f"proof too short for sizes {old_size}, {new_size}")
    if fr != old_root:
        raise ConsistencyProofInvalid("proof does not reproduce the old root")
    if sr != new_root:
        raise ConsistencyProofInvalid("proof does not reproduce the new root")
