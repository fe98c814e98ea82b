// The proof-bundle check, in the browser: the service's own Rust verifier (crate `verifier`)
// compiled to WebAssembly. The page gives it the ledger key it trusts, the bundle file and,
// if it has them, the document's bytes; nothing is sent anywhere.
//
// The module's interface (see verifier/src/wasm.rs): `input(len)` returns where to write
// key || bundle || document, `verify(key_len, bundle_len, has_document)` returns the length of
// a JSON answer found at `output()`.

let exports = null;

async function verifier() {
  if (!exports) {
    const response = await fetch("/web/verifier.wasm");
    if (!response.ok) throw new Error(`the verifier did not load (HTTP ${response.status})`);
    const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), {});
    exports = instance.exports;
  }
  return exports;
}

// Checks a bundle (bytes) against a ledger key (64 hex digits) and, if given, the document's
// bytes. Answers { ok: true, verified: {...} } or { ok: false, code, message }.
export async function verifyBundle(ledgerKeyHex, bundle, document = null) {
  const wasm = await verifier();
  const key = new TextEncoder().encode(ledgerKeyHex.trim());
  const parts = [key, new Uint8Array(bundle), document ? new Uint8Array(document) : new Uint8Array(0)];
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const at = wasm.input(length);
  if (at === 0) {
    return { ok: false, code: "too_large", message: `${length} bytes are more than a bundle and its document can be` };
  }
  // Written after `input`, which may have grown the memory and so replaced its buffer.
  const memory = new Uint8Array(wasm.memory.buffer, at, length);
  let offset = 0;
  for (const part of parts) { memory.set(part, offset); offset += part.length; }
  const answerLength = wasm.verify(key.length, parts[1].length, document ? 1 : 0);
  const answer = new Uint8Array(wasm.memory.buffer, wasm.output(), answerLength);
  return JSON.parse(new TextDecoder().decode(answer));
}

// The ledger key this service publishes with its signed checkpoints.
export async function publishedLedgerKey() {
  const response = await fetch("/v1/ledger/checkpoints");
  if (!response.ok) throw new Error(`the ledger key did not load (HTTP ${response.status})`);
  return (await response.json()).ledger_key;
}
