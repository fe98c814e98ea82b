// The browser's verifier as the page runs it (WebAssembly, the same exports), timed on the demo
// marksheet's bundle; compare with `cargo bench -p locker-benches --bench ledger -- bundle`
// (native, beside a raw Ed25519 verification).
import fs from "fs";
// Usage: node benches/wasm/verify.mjs <verifier.wasm>  (built by server/build.rs into
//   $CARGO_TARGET_DIR/verifier-wasm/wasm32-unknown-unknown/wasm/verifier.wasm)
const wasm = fs.readFileSync(process.argv[2]);
const { instance } = await WebAssembly.instantiate(wasm, {});
const e = instance.exports;
const fx = new URL("../../verifier/tests/fixtures/", import.meta.url).pathname;
const key = new TextEncoder().encode(fs.readFileSync(fx + "ledger-key.hex", "utf8").trim());
const bundle = fs.readFileSync(fx + "marksheet.locker-bundle.json");
const pdf = fs.readFileSync(fx + "marksheet.pdf");
function once() {
  const len = key.length + bundle.length + pdf.length;
  const at = e.input(len);
  const m = new Uint8Array(e.memory.buffer, at, len);
  m.set(key, 0); m.set(bundle, key.length); m.set(pdf, key.length + bundle.length);
  const n = e.verify(key.length, bundle.length, 1);
  return JSON.parse(new TextDecoder().decode(new Uint8Array(e.memory.buffer, e.output(), n)));
}
if (!once().ok) throw new Error("did not verify");
for (let i = 0; i < 50; i++) once();
const n = 500, t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) once();
const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
console.log(`wasm verify_bundle_file: ${us.toFixed(1)} µs per bundle (node ${process.version})`);
