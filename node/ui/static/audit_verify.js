// The audit entry page's check, run in the reader's browser with WebCrypto only
// (no library, nothing fetched): is this entry's exact text leaf `seq` of the
// Merkle tree of `size` entries whose root the node's checkpoint signed?
//
// Input: the JSON data block #inclusion-data, {seq, size, body, leaf_hash, proof, root}
// (hashes in standard base64). `body` is the stored entry as a JSON string; its UTF-8
// bytes (TextEncoder) are the leaf input. The stored `leaf_hash` is not trusted, only
// reported when it differs from the one computed here.
//
// Plan (RFC 9162 §2.1.1 hashes, §2.1.3.2 verification):
//   (1) leaf = SHA-256(0x00 || UTF-8 bytes of body)
//   (2) the body is a JSON object that says it is entry `seq`
//   (3) every proof hash and the root are 32 bytes; seq < size
//   (4) fold the proof: fn = seq, sn = size - 1, r = leaf; for each p:
//       sn == 0 -> too long; if fn is odd or fn == sn: r = SHA-256(0x01 || p || r) and,
//       while fn is even and non-zero, halve fn and sn; else r = SHA-256(0x01 || r || p);
//       then halve fn and sn
//   (5) sn == 0 and r == root
"use strict";

(() => {
  const out = document.getElementById("browser-check");
  const dataBlock = document.getElementById("inclusion-data");
  if (!out || !dataBlock) {
    return;
  }

  const report = (ok, text) => {
    out.textContent = text;
    out.className = ok ? "ok" : "bad";
    out.dataset.result = ok ? "ok" : "fail";
  };
  const show = (id, text) => {
    const element = document.getElementById(id);
    if (element) {
      element.textContent = text;
    }
  };

  const fromBase64 = (text) => {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  };
  const toBase64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
  const same = (a, b) => a.length === b.length && a.every((value, i) => value === b[i]);

  const sha256 = async (...parts) => {
    const joined = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      joined.set(part, offset);
      offset += part.length;
    }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  };
  const LEAF = Uint8Array.of(0x00);
  const NODE = Uint8Array.of(0x01);
  const half = (n) => Math.floor(n / 2); // not >>: sizes may pass 2^31
  const odd = (n) => n % 2 === 1;

  // (4)-(5) up to the comparison: the root this proof gives for `leaf` at `index`.
  const rootFromProof = async (leaf, index, size, proof) => {
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0) {
        throw new Error(`the proof is too long for entry ${index} in a tree of size ${size}`);
      }
      if (odd(fn) || fn === sn) {
        r = await sha256(NODE, p, r);
        while (fn !== 0 && !odd(fn)) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        r = await sha256(NODE, r, p);
      }
      fn = half(fn);
      sn = half(sn);
    }
    if (sn !== 0) {
      throw new Error(`the proof is too short for entry ${index} in a tree of size ${size}`);
    }
    return r;
  };

  const check = async () => {
    const data = JSON.parse(dataBlock.textContent);
    const failed = (why) => report(false, `FAILED in this browser: ${why}`);
    if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
      failed("this page is not a secure context (HTTPS or localhost), so WebCrypto is unavailable");
      return;
    }
    // (1): the leaf hash of exactly the stored text's UTF-8 bytes.
    const leaf = await sha256(LEAF, new TextEncoder().encode(data.body));
    show("computed-leaf", toBase64(leaf));
    const storedNote = toBase64(leaf) === data.leaf_hash
      ? ""
      : ` (the node's stored leaf hash is ${data.leaf_hash}; the bytes shown hash to ${toBase64(leaf)})`;
    // (2): the entry names its own position.
    let entry;
    try {
      entry = JSON.parse(data.body);
    } catch (error) {
      failed(`the entry's bytes are not JSON: ${error.message}`);
      return;
    }
    if (entry === null || typeof entry !== "object" || entry.seq !== data.seq) {
      failed(`the entry says it is entry ${entry && entry.seq}, not entry ${data.seq}`);
      return;
    }
    // (3): well-formed inputs.
    const proof = data.proof.map(fromBase64);
    const root = fromBase64(data.root);
    if (root.length !== 32 || proof.some((p) => p.length !== 32)) {
      failed("the root and every proof hash must be 32 bytes (SHA-256)");
      return;
    }
    if (!(Number.isSafeInteger(data.seq) && data.seq >= 0 && data.seq < data.size)) {
      failed(`entry ${data.seq} cannot be in a tree of size ${data.size}`);
      return;
    }
    // (4): fold the proof.
    let computed;
    try {
      computed = await rootFromProof(leaf, data.seq, data.size, proof);
    } catch (error) {
      failed(error.message + storedNote);
      return;
    }
    show("computed-root", toBase64(computed));
    // (5): the root the checkpoint signed.
    if (!same(computed, root)) {
      failed(
        `entry ${data.seq} as shown is not in the tree of size ${data.size} with root ` +
          `${data.root}: its bytes and the proof lead to root ${toBase64(computed)}${storedNote}`,
      );
      return;
    }
    report(
      true,
      `verified in this browser: entry ${data.seq} is in the tree of size ${data.size} ` +
        `with root ${data.root}`,
    );
  };

  check().catch((error) => report(false, `FAILED in this browser: ${error}`));
})();
