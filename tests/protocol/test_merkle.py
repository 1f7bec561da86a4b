"""RFC 9162 Merkle trees: transparency-dev vectors, the reference tree, and properties."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.errors import (
    ConsistencyProofInvalid,
    InclusionProofInvalid,
    MerkleError,
    MerkleInputError,
    ProtocolError,
)
from clearinghouse.protocol.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    node_hash,
    root_from,
    root_from_leaf_hashes,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.support import VECTORS

DIR = VECTORS / "merkle-rfc6962"
INCLUSION = sorted((DIR / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((DIR / "consistency").rglob("*.json"))
REFERENCE = json.loads((DIR / "reference_tree.json").read_text())
REFERENCE_LEAVES = [bytes.fromhex(h) for h in REFERENCE["leaf_inputs_hex"]]
REFERENCE_ROOTS = [bytes.fromhex(h) for h in REFERENCE["root_hashes_hex_by_tree_size"]]


def _vector(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def _name(path: Path) -> str:
    return str(path.relative_to(DIR))


def test_all_vector_files_are_found() -> None:
    # The README counts 98 inclusion and 98 consistency files.
    assert (len(INCLUSION), len(CONSISTENCY)) == (98, 98)


@pytest.mark.parametrize("path", INCLUSION, ids=_name)
def test_inclusion_vector(path: Path) -> None:
    v = _vector(path)
    proof = [_b(p) for p in v["proof"] or []]
    args = (_b(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b(v["root"]))
    if v["wantErr"]:
        with pytest.raises(InclusionProofInvalid):
            verify_inclusion(*args)
        return
    verify_inclusion(*args)
    size = v["treeSize"]
    if size <= 8 and _b(v["root"]) == REFERENCE_ROOTS[size]:
        # A happy path over the reference tree: our generators give the same proof.
        assert inclusion_proof(REFERENCE_LEAVES[:size], v["leafIdx"]) == proof
        assert inclusion_proof_from(_reference_tree(), v["leafIdx"], size) == proof


@pytest.mark.parametrize("path", CONSISTENCY, ids=_name)
def test_consistency_vector(path: Path) -> None:
    v = _vector(path)
    proof = [_b(p) for p in v["proof"] or []]
    args = (v["size1"], v["size2"], _b(v["root1"]), _b(v["root2"]), proof)
    if v["wantErr"]:
        with pytest.raises(ConsistencyProofInvalid):
            verify_consistency(*args)
        return
    verify_consistency(*args)
    old, new = v["size1"], v["size2"]
    if new <= 8 and _b(v["root2"]) == REFERENCE_ROOTS[new]:
        assert consistency_proof(REFERENCE_LEAVES[:new], old) == proof
        assert consistency_proof_from(_reference_tree(), old, new) == proof


@cache
def _reference_tree() -> MemoryTree:
    return MemoryTree(leaf_hash(e) for e in REFERENCE_LEAVES)


@pytest.mark.parametrize("size", range(9))
def test_reference_roots(size: int) -> None:
    assert root_hash(REFERENCE_LEAVES[:size]) == REFERENCE_ROOTS[size]
    assert _reference_tree().root(size) == REFERENCE_ROOTS[size]
    assert MemoryTree(leaf_hash(e) for e in REFERENCE_LEAVES[:size]).root() == REFERENCE_ROOTS[size]


def test_reference_node_hashes_are_the_complete_blocks() -> None:
    tree = _reference_tree()
    for level, hashes in enumerate(REFERENCE["node_hashes_hex_by_level"]):
        width = 1 << level
        for j, expected in enumerate(hashes):
            assert tree.subtree(j * width, (j + 1) * width) == bytes.fromhex(expected)


def test_hash_definitions() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == root_hash([])
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert root_hash([b"x"]) == leaf_hash(b"x")


# --- properties over random trees -------------------------------------------------------


def _entries(size: int) -> list[bytes]:
    return [b"audit entry %d" % i for i in range(size)]


@cache
def _tree(size: int) -> MemoryTree:
    return MemoryTree(leaf_hash(e) for e in _entries(size))


@cache
def _root(size: int) -> bytes:
    return root_hash(_entries(size))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@st.composite
def _size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, 300))
    return size, draw(st.integers(0, size - 1))


@settings(max_examples=150, deadline=None)
@given(_size_and_index())
def test_inclusion_proofs_agree_and_verify(case: tuple[int, int]) -> None:
    size, index = case
    proof = inclusion_proof(_entries(size), index)
    assert proof == inclusion_proof_from(_tree(size), index, size)
    assert len(proof) <= math.ceil(math.log2(size))
    verify_inclusion(leaf_hash(_entries(size)[index]), index, size, proof, _root(size))


@settings(max_examples=150, deadline=None)
@given(_size_and_index(), st.data())
def test_inclusion_tampering_fails(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    leaf, proof, root = (
        leaf_hash(_entries(size)[index]),
        inclusion_proof(_entries(size), index),
        _root(size),
    )
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:i], _flip(proof[i], data.draw(st.integers(0, 31))), *proof[i + 1 :]]
        with pytest.raises(InclusionProofInvalid):
            verify_inclusion(leaf, index, size, bad, root)
        with pytest.raises(InclusionProofInvalid):
            verify_inclusion(leaf, index, size, proof[:-1], root)
    with pytest.raises(InclusionProofInvalid):
        verify_inclusion(_flip(leaf, 0), index, size, proof, root)
    with pytest.raises(InclusionProofInvalid):
        verify_inclusion(leaf, index, size, proof, _flip(root, 31))
    with pytest.raises(InclusionProofInvalid):
        verify_inclusion(leaf, index, size, [*proof, root], root)
    other_index = data.draw(st.integers(0, size).filter(lambda i: i != index))
    with pytest.raises(InclusionProofInvalid):
        verify_inclusion(leaf, other_index, size, proof, root)
    # Another size, with that size's own root (the pair a checkpoint would give).
    other_size = data.draw(st.integers(index + 1, 301).filter(lambda s: s != size))
    with pytest.raises(InclusionProofInvalid):
        verify_inclusion(leaf, index, other_size, proof, _root(other_size))


@st.composite
def _old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, 300))
    return draw(st.integers(1, new)), new


@settings(max_examples=150, deadline=None)
@given(_old_and_new())
def test_consistency_proofs_agree_and_verify(case: tuple[int, int]) -> None:
    old, new = case
    proof = consistency_proof(_entries(new), old)
    assert proof == consistency_proof_from(_tree(new), old, new)
    assert (proof == []) == (old == new)
    verify_consistency(old, new, _root(old), _root(new), proof)


@settings(max_examples=150, deadline=None)
@given(_old_and_new(), st.data())
def test_consistency_tampering_fails(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    proof = consistency_proof(_entries(new), old)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:i], _flip(proof[i], data.draw(st.integers(0, 31))), *proof[i + 1 :]]
        with pytest.raises(ConsistencyProofInvalid):
            verify_consistency(old, new, _root(old), _root(new), bad)
        with pytest.raises(ConsistencyProofInvalid):
            verify_consistency(old, new, _root(old), _root(new), proof[:-1])
    with pytest.raises(ConsistencyProofInvalid):
        verify_consistency(old, new, _root(old), _root(new), [*proof, _root(new)])
    with pytest.raises(ConsistencyProofInvalid):
        verify_consistency(old, new, _flip(_root(old), 0), _root(new), proof)
    with pytest.raises(ConsistencyProofInvalid):
        verify_consistency(old, new, _root(old), _flip(_root(new), 31), proof)
    other_old = data.draw(st.integers(1, new).filter(lambda s: s != old)) if new > 1 else None
    if other_old is not None:
        with pytest.raises(ConsistencyProofInvalid):
            verify_consistency(other_old, new, _root(other_old), _root(new), proof)
    other_new = data.draw(st.integers(old, 301).filter(lambda s: s != new))
    with pytest.raises(ConsistencyProofInvalid):
        verify_consistency(old, other_new, _root(old), _root(other_new), proof)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.data())
def test_memory_tree_roots_and_blocks(size: int, data: st.DataObject) -> None:
    entries = _entries(size)
    tree = MemoryTree()
    for i, entry in enumerate(entries):
        for block in tree.append(leaf_hash(entry)):
            start = block.index << block.level
            assert start + (1 << block.level) == i + 1  # every new block ends at the new leaf
            assert block.hash == root_hash(entries[start : i + 1])
    assert tree.size == size
    assert tree.root() == root_hash(entries) == root_from_leaf_hashes(map(leaf_hash, entries))
    k = data.draw(st.integers(0, size))
    assert tree.root(k) == root_hash(entries[:k]) == root_from(tree, k)
    if 0 < k < size:  # a right-edge range of the first k leaves' tree
        assert MemoryTree(map(leaf_hash, entries[:k])).subtree(0, k) == root_hash(entries[:k])


# --- the subtree versions ask for O(log n) complete aligned blocks only -----------------


class _CountingSource:
    """Answers only complete aligned blocks inside the tree; counts the calls."""

    def __init__(self, size: int) -> None:
        self.size, self.calls = size, 0

    def subtree(self, start: int, end: int) -> bytes:
        width = end - start
        aligned = width > 0 and width & (width - 1) == 0 and start % width == 0
        assert aligned and 0 <= start and end <= self.size, f"asked for [{start}, {end})"
        self.calls += 1
        return hashlib.sha256(b"%d:%d" % (start, end)).digest()


N = 1_000_000
BOUND = 2 * math.log2(N) + 2


@pytest.mark.parametrize(
    "index", [0, 1, 2, 511_999, 524_287, 524_288, 999_424, 999_998, N - 1, 262_143, 786_431]
)
def test_inclusion_from_asks_for_few_aligned_blocks(index: int) -> None:
    source = _CountingSource(N)
    proof = inclusion_proof_from(source, index, N)
    assert source.calls <= BOUND and len(proof) <= 20


@pytest.mark.parametrize("old", [1, 2, 3, 7, 8, 524_287, 524_288, 524_289, 999_999, N, 262_145])
def test_consistency_from_asks_for_few_aligned_blocks(old: int) -> None:
    source = _CountingSource(N)
    consistency_proof_from(source, old, N)
    assert source.calls <= BOUND


def test_random_indices_and_sizes_stay_within_the_bound() -> None:
    rng = random.Random(9162)
    for _ in range(300):
        size = rng.randrange(1, N + 1)
        bound = 2 * math.log2(max(size, 2)) + 2
        sources = [_CountingSource(size) for _ in range(3)]
        inclusion_proof_from(sources[0], rng.randrange(size), size)
        consistency_proof_from(sources[1], rng.randrange(1, size + 1), size)
        root_from(sources[2], size)
        assert [s.calls <= bound for s in sources] == [True] * 3
        assert sources[2].calls == size.bit_count()


# --- one negative test per error class ---------------------------------------------------


def test_merkle_input_errors() -> None:
    tree = _tree(5)
    for bad in (
        lambda: inclusion_proof(_entries(5), 5),
        lambda: inclusion_proof_from(tree, -1, 5),
        lambda: consistency_proof(_entries(5), 0),
        lambda: consistency_proof_from(tree, 6, 5),
        lambda: root_from(tree, -1),
        lambda: tree.root(6),
        lambda: tree.subtree(1, 3),  # not aligned, not the right edge
        lambda: tree.subtree(4, 6),  # beyond the tree
        lambda: MemoryTree().append(b"short"),
        lambda: root_from_leaf_hashes([b"\x00" * 31]),
    ):
        with pytest.raises(MerkleInputError):
            bad()


def test_inclusion_proof_invalid_names_the_check() -> None:
    leaf, proof = leaf_hash(_entries(5)[2]), inclusion_proof(_entries(5), 2)
    with pytest.raises(InclusionProofInvalid, match="not in a tree of size 5"):
        verify_inclusion(leaf, 5, 5, proof, _root(5))
    with pytest.raises(InclusionProofInvalid, match="too short"):
        verify_inclusion(leaf, 2, 5, proof[:-1], _root(5))
    with pytest.raises(InclusionProofInvalid, match="too long"):
        verify_inclusion(leaf, 2, 5, [*proof, proof[0]], _root(5))
    with pytest.raises(InclusionProofInvalid, match="32 bytes"):
        verify_inclusion(leaf[:31], 2, 5, proof, _root(5))
    with pytest.raises(InclusionProofInvalid, match="root"):
        verify_inclusion(leaf, 2, 5, proof, _root(4))


def test_consistency_proof_invalid_names_the_check() -> None:
    proof = consistency_proof(_entries(7), 3)
    for args, message in [
        ((0, 7, EMPTY_ROOT, _root(7), []), "non-empty tree"),
        ((7, 3, _root(7), _root(3), proof), "larger than"),
        ((7, 7, _root(7), _root(7), proof), "not empty"),
        ((7, 7, _root(7), _root(6), []), "differ"),
        ((3, 7, _root(3), _root(7), []), "empty"),
        ((3, 7, _root(3), _root(7), proof[:-1]), "too short"),
        ((3, 7, _root(3), _root(7), [*proof, proof[0]]), "too long"),
        ((3, 7, _root(2), _root(7), proof), "old root"),
        ((3, 7, _root(3), _root(6), proof), "new root"),
        ((3, 7, _root(3), _root(7), [proof[0][:16], *proof[1:]]), "32 bytes"),
    ]:
        with pytest.raises(ConsistencyProofInvalid, match=message):
            verify_consistency(*args)


def test_every_merkle_error_is_a_protocol_error() -> None:
    for cls in (MerkleInputError, InclusionProofInvalid, ConsistencyProofInvalid):
        assert issubclass(cls, MerkleError) and issubclass(cls, ProtocolError)
    assert (
        len({MerkleInputError.code, InclusionProofInvalid.code, ConsistencyProofInvalid.code}) == 3
    )
