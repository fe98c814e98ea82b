// The citizen's web locker: hash routes over the service's JSON API. No inline scripts or
// styles (the Content-Security-Policy forbids them); every text from the server goes in as
// text, never as markup.
import { STRINGS } from "/web/i18n.js";
import { publishedLedgerKey, verifyBundle } from "/web/verify.js";

const state = { lang: localStorage.getItem("lang") === "hi" ? "hi" : "en", csrf: null, locker: null };

function t(key, vars = {}) {
  const text = STRINGS[state.lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

// Builds an element: h("p", { class: "meta" }, "text", child, ...).
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// Calls the API with the session cookie; a change carries the CSRF token.
async function api(method, path, { json, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["content-type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  if (method !== "GET" && state.csrf) init.headers["x-csrf-token"] = state.csrf;
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", t("network_error"));
  }
  if (response.ok) return response;
  let code = "error", message = `HTTP ${response.status}`;
  try { ({ code, message } = await response.json()); } catch { /* not JSON */ }
  // Only a session the service no longer knows ends the page's: a wrong code or password
  // (also 401) is an error beside its field.
  if (response.status === 401 && code === "invalid_token" && state.locker) {
    state.locker = null; state.csrf = null;
    say(t("session_ended"));
    go("#/login");
  }
  throw new ApiError(response.status, code, message);
}

const getJson = async (path) => (await api("GET", path)).json();

function say(message) { document.getElementById("status").textContent = message; }

// A message said before the page moves on (go) stays for the next page; a move the citizen
// makes (a link, the back button) clears it.
let moving = false;

function go(hash) {
  if (location.hash === hash) return route();
  moving = true;
  location.hash = hash;
}

// Shows a server error beside the field it concerns (or at the form's end).
function showError(form, error, fields) {
  form.querySelectorAll(".error").forEach((e) => e.remove());
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  const field = Object.entries(fields).find(([, codes]) => codes.some((c) => error.code?.includes(c)));
  const input = field && form.elements[field[0]];
  const id = `${form.id}-error`;
  const note = h("p", { class: "error", id, role: "alert" }, error.message);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    input.after(note);
    input.focus();
  } else {
    form.querySelector("button[type=submit]").before(note);
  }
}

// Runs a form's submission once at a time: a double click does not send twice.
function onSubmit(form, fields, work) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    try {
      form.querySelectorAll(".error").forEach((e) => e.remove());
      await work(new FormData(form));
    } catch (error) {
      if (error instanceof ApiError) showError(form, error, fields); else throw error;
    } finally {
      button.disabled = false;
    }
  });
}

// A button that runs `work` once at a time and says what went wrong.
function actionButton(label, work) {
  const button = h("button", { type: "button", class: "secondary", onclick: async () => {
    if (button.disabled) return;
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      if (error instanceof ApiError) say(error.message); else throw error;
    } finally {
      button.disabled = false;
    }
  } }, label);
  return button;
}

function field(name, label, type = "text", extra = {}) {
  const id = `f-${name}`;
  return [h("label", { for: id }, label), h("input", { id, name, type, required: true, ...extra })];
}

function page(title, ...content) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", {}, title), ...content.filter((part) => part instanceof Node));
  document.title = `${title} · ${t("brand")}`;
  main.focus();
}

// ----- Pages -----

function loginPage() {
  const form = h("form", { class: "card", id: "login-form", novalidate: true },
    field("username", t("username"), "text", { autocomplete: "username" }),
    field("password", t("password"), "password", { autocomplete: "current-password" }),
    h("button", { type: "submit", class: "primary" }, t("login")));
  onSubmit(form, { username: ["username", "credentials", "locked"], password: ["password"] }, async (data) => {
    const answer = await (await api("POST", "/v1/citizen/login", {
      json: { username: data.get("username"), password: data.get("password"), session: "cookie" },
    })).json();
    state.csrf = answer.csrf_token; state.locker = answer.locker;
    say("");
    go("#/certificates");
  });
  page(t("login_title"), form, h("p", {}, h("a", { href: "#/signup" }, t("no_account"))),
    h("p", {}, h("a", { href: "#/verify", id: "verify-link" }, t("verify_link"))));
}

function signupPage() {
  const otpForm = h("form", { class: "card", id: "otp-form", novalidate: true },
    field("mobile", t("mobile"), "tel", { autocomplete: "tel", inputmode: "numeric" }),
    h("button", { type: "submit", class: "primary" }, t("send_otp")));
  const signupForm = h("form", { class: "card", id: "signup-form", novalidate: true, hidden: true },
    field("otp", t("otp"), "text", { autocomplete: "one-time-code", inputmode: "numeric" }),
    field("username", t("choose_username"), "text", { autocomplete: "username" }),
    field("password", t("choose_password"), "password", { autocomplete: "new-password" }),
    h("button", { type: "submit", class: "primary" }, t("create_locker")));
  let mobile = "";
  onSubmit(otpForm, { mobile: ["mobile", "otp_delivery", "rate"] }, async (data) => {
    mobile = String(data.get("mobile")).trim();
    const sent = await (await api("POST", "/v1/citizen/signup/otp", { json: { mobile } })).json();
    say(t("otp_sent", { to: sent.sent_to }));
    signupForm.hidden = false;
    signupForm.elements.otp.focus();
  });
  onSubmit(signupForm, { otp: ["otp"], username: ["username"], password: ["password"], }, async (data) => {
    const username = data.get("username"), password = data.get("password");
    await api("POST", "/v1/citizen/signup", { json: { mobile, otp: data.get("otp"), username, password } });
    const answer = await (await api("POST", "/v1/citizen/login", {
      json: { username, password, session: "cookie" },
    })).json();
    state.csrf = answer.csrf_token; state.locker = answer.locker;
    say(t("signed_up"));
    go("#/certificates");
  });
  page(t("signup_title"), otpForm, signupForm, h("p", {}, h("a", { href: "#/login" }, t("have_account"))));
}

const enc = encodeURIComponent;

function downloadLink(href, label, file) {
  return h("a", { href, download: file }, label);
}

function issuedCard(doc) {
  const status = h("span", { class: `badge ${doc.status}` }, t(`status_${doc.status}`));
  const base = `/v1/citizen/certificates/${enc(doc.uri)}`;
  return h("li", { class: `card ${doc.status}` },
    h("h2", {}, doc.name), status, doc.esigned_at_ms && [" ", h("span", { class: "badge esigned" }, t("esigned"))],
    h("p", { class: "meta" }, t("issued_by", { issuer: doc.issuer_name ?? doc.issuer })),
    h("p", { class: "meta" }, doc.doc_type_name ?? doc.doc_type),
    h("p", { class: "meta" }, t("issued_on", { date: doc.issued_on })),
    doc.valid_to && h("p", { class: "meta" }, t("valid_to", { date: doc.valid_to })),
    h("div", { class: "actions" },
      h("a", { href: `#/document/${enc(doc.uri)}` }, t("open")),
      downloadLink(`${base}/content`, t("download"), doc.uri),
      downloadLink(`${base}/bundle`, t("bundle"), `${doc.uri}.bundle.json`)));
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1 << 30) return `${(bytes / (1 << 20)).toFixed(1)} MB`;
  return `${(bytes / (1 << 30)).toFixed(2)} GB`;
}

function uploadCard(upload, reload) {
  const name = upload.file_name ?? upload.id;
  const base = `/v1/citizen/uploads/${enc(upload.id)}`;
  const remove = actionButton(t("delete"), async () => {
    if (!confirm(t("delete_confirm", { name }))) return;
    await api("DELETE", base);
    say(t("deleted", { name }));
    reload();
  });
  return h("li", { class: "card" },
    h("h2", {}, name), upload.esigned_at_ms && h("span", { class: "badge esigned" }, t("esigned")),
    h("p", { class: "meta" }, `${upload.media_type} · ${size(upload.size_bytes)}`),
    h("p", { class: "meta" }, new Date(upload.uploaded_at_ms).toLocaleString(state.lang === "hi" ? "hi-IN" : "en-IN")),
    h("div", { class: "actions" },
      h("a", { href: `#/upload/${enc(upload.id)}` }, t("open")),
      downloadLink(`${base}/content`, t("download"), name),
      downloadLink(`${base}/bundle`, t("bundle"), `${name}.bundle.json`),
      remove));
}

// Sends a file with a progress bar (fetch cannot report upload progress).
function sendFile(file, progress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `/v1/citizen/uploads?name=${enc(file.name)}`);
    request.setRequestHeader("x-csrf-token", state.csrf ?? "");
    request.upload.addEventListener("progress", (e) => { if (e.lengthComputable) progress.value = e.loaded / e.total; });
    request.addEventListener("load", () => {
      if (request.status < 300) return resolve(JSON.parse(request.responseText));
      let answer = { code: "error", message: `HTTP ${request.status}` };
      try { answer = JSON.parse(request.responseText); } catch { /* not JSON */ }
      reject(new ApiError(request.status, answer.code, answer.message));
    });
    request.addEventListener("error", () => reject(new ApiError(0, "network", t("network_error"))));
    request.send(file);
  });
}

// Items per page of a list (the browser test sets a small one in localStorage to page).
const PAGE_ITEMS = Number(localStorage.getItem("pageItems")) || 50;

// A list of cards with a "Show more" button while the server has more pages.
function pagedList(path, first, card) {
  const list = h("ul", { class: "docs" }, first.items.map(card));
  let cursor = first.next_cursor;
  const more = h("button", { type: "button", class: "secondary", hidden: !cursor, onclick: async () => {
    more.disabled = true;
    try {
      const next = await getJson(`${path}?limit=${PAGE_ITEMS}&cursor=${enc(cursor)}`);
      list.append(...next.items.map(card));
      cursor = next.next_cursor;
      more.hidden = !cursor;
    } catch (error) { say(error.message); }
    more.disabled = false;
  } }, t("show_more"));
  return h("div", {}, list, more);
}

async function certificatesPage(tab) {
  const issuedTab = h("button", { type: "button", role: "tab", id: "tab-issued", "aria-selected": String(tab === "issued"),
    onclick: () => go("#/certificates") }, t("issued"));
  const uploadedTab = h("button", { type: "button", role: "tab", id: "tab-uploaded", "aria-selected": String(tab === "uploaded"),
    onclick: () => go("#/certificates/uploaded") }, t("uploaded"));
  const panel = h("div", { role: "tabpanel", "aria-labelledby": `tab-${tab}` }, t("loading"));
  page(t("nav_certificates"), h("div", { class: "tabs", role: "tablist" }, issuedTab, uploadedTab), panel);
  if (tab === "issued") {
    const list = await getJson(`/v1/citizen/certificates?limit=${PAGE_ITEMS}`);
    panel.replaceChildren(list.items.length
      ? pagedList("/v1/citizen/certificates", list, issuedCard)
      : h("p", {}, t("no_issued")));
    return;
  }
  const reload = () => certificatesPage("uploaded");
  const [list, storage] = await Promise.all([getJson(`/v1/citizen/uploads?limit=${PAGE_ITEMS}`), getJson("/v1/citizen/storage")]);
  const progress = h("progress", { max: "1", value: "0", hidden: true, "aria-label": t("upload") });
  const form = h("form", { class: "card", id: "upload-form", novalidate: true },
    h("h2", {}, t("upload_title")), h("p", { class: "meta" }, t("upload_hint")),
    field("file", t("file"), "file", { accept: ".pdf,.jpg,.jpeg,.png,.bmp,.gif" }),
    progress, h("button", { type: "submit", class: "primary" }, t("upload")));
  onSubmit(form, { file: ["file", "quota", "upload", "type", "size", "name"] }, async () => {
    const file = form.elements.file.files[0];
    if (!file) throw new ApiError(400, "missing_file", t("upload_hint"));
    progress.hidden = false; progress.value = 0;
    try {
      await sendFile(file, progress);
    } finally { progress.hidden = true; }
    say(t("uploaded_ok", { name: file.name }));
    reload();
  });
  panel.replaceChildren(
    h("p", { class: "meta" }, t("storage", { used: size(storage.used_bytes), quota: size(storage.quota_bytes) })),
    form,
    list.items.length ? pagedList("/v1/citizen/uploads", list, (u) => uploadCard(u, reload)) : h("p", {}, t("no_uploads")));
}

// Shows a document's bytes in the page: images and PDFs from a blob URL. Returns the bytes
// (for the verifier), or null when there are none to show.
async function preview(contentPath, into) {
  try {
    const response = await api("GET", contentPath);
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    if (blob.type.startsWith("image/")) into.replaceChildren(h("img", { class: "preview", src: url, alt: t("document") }));
    else into.replaceChildren(h("iframe", { class: "preview", src: url, title: t("document") }));
    return await blob.arrayBuffer();
  } catch (error) {
    into.replaceChildren(h("p", { class: "meta" }, error.code === "content_not_stored" ? t("not_stored") : error.message));
    return null;
  }
}

// ----- E-signatures -----

// The citizen e-signs a document with her own key: when she last did, a button to do it, and
// after it, what anyone needs to check the signature.
function esignSection(selector, esignedAtMs) {
  const said = h("p", { class: "meta", id: "esigned" }, esignedAtMs ? t("esigned_on", { date: when(esignedAtMs) }) : t("not_esigned"));
  const details = h("div", { "aria-live": "polite" });
  const button = actionButton(t("esign"), async () => {
    const signed = await (await api("POST", "/v1/citizen/esign", { json: selector })).json();
    said.textContent = t("esigned_on", { date: when(Date.now()) });
    say(t("esigned_ok"));
    details.replaceChildren(
      h("p", { class: "meta" }, t("esign_check")),
      detailTable([
        [t("esignature"), h("code", { id: "esignature" }, signed.esignature)],
        [t("public_key"), h("code", {}, signed.public_key)],
        [t("signed_message"), h("code", {}, `${signed.domain} || ${signed.content_hash}`)],
      ]));
  });
  button.id = "esign-button";
  return h("section", { class: "card", "aria-labelledby": "esign-title" },
    h("h2", { id: "esign-title" }, t("esign_title")), said, button, details);
}

// ----- Verification (in the browser, against the published ledger key) -----

// What a verifier's answer says, for people.
function verdict(answer) {
  if (!answer.ok) {
    return h("div", { class: "verdict bad", id: "verdict", role: "alert" },
      h("p", { class: "verdict-title" }, t("not_authentic")), h("p", {}, answer.message));
  }
  const v = answer.verified;
  const signer = v.signer_kind === "citizen" ? t("signer_citizen")
    : v.signer_name ? `${v.signer_name} (${v.signer})` : v.signer;
  const chain = v.key_records === 0 ? t("chain_platform")
    : v.key_records === 1 ? t("chain_one") : t("chain_many", { count: v.key_records });
  return h("div", { class: "verdict good", id: "verdict", role: "status" },
    h("p", { class: "verdict-title" }, t("authentic")),
    detailTable([
      [t("document"), v.name ?? t("uploaded_document")],
      ["URI", v.uri ?? v.upload_id],
      [v.signer_kind === "citizen" ? t("uploaded_by") : t("issuer"), signer],
      [t("issued_on", { date: "" }).replace(/[:\s]+$/, ""), v.issued_on],
      [t("signed_at"), `${when(v.signed_at_ms)} · ${chain}`],
      [t("file"), v.content_checked ? t("content_matches") : t("content_unchecked")],
      [t("content_hash"), h("code", {}, v.content.hash)],
      [t("logged"), t("logged_at", { date: when(v.logged.at_ms), leaf: v.logged.leaf_index + 1, size: v.logged.size })],
    ]));
}

// What the service says became of a verified bundle's document since it was issued.
async function currentStatus(bundle) {
  const shown = h("p", { id: "current-status" }, t("status_checking"));
  (async () => {
    try {
      const now = await (await api("POST", "/v1/ledger/status", {
        body: bundle, headers: { "content-type": "application/json" },
      })).json();
      const parts = [t("status_now", { date: when(now.checked_at_ms) }), " ",
        h("span", { class: `badge ${now.status === "present" ? "active" : now.status}` }, t(`status_${now.status}`))];
      if (now.revoked_reason) parts.push(" ", t(`reason_${now.revoked_reason}`));
      if (!now.current && now.status !== "deleted") parts.push(" ", t("not_current"));
      shown.replaceChildren(...parts);
    } catch (error) {
      shown.textContent = error.message;
    }
  })();
  return shown;
}

// Checks a document the page shows against its proof bundle and says whether it verifies.
async function verification(bundlePath, shownBytes, into) {
  into.replaceChildren(h("p", { class: "meta" }, t("verifying")));
  try {
    const [bundle, key, bytes] = await Promise.all([
      api("GET", bundlePath).then((response) => response.arrayBuffer()), publishedLedgerKey(), shownBytes]);
    into.replaceChildren(h("h2", { class: "section" }, t("verification")), verdict(await verifyBundle(key, bundle, bytes)));
  } catch (error) {
    const message = error.code === "not_yet_checkpointed" ? t("not_yet_checkpointed") : error.message;
    into.replaceChildren(h("p", { class: "meta", id: "verdict" }, message));
  }
}

async function verifyPage() {
  const result = h("div", { id: "verify-result", "aria-live": "polite" });
  const keyField = field("ledger_key", t("ledger_key"), "text", { spellcheck: "false", autocomplete: "off" });
  const form = h("form", { class: "card", id: "verify-form", novalidate: true },
    h("p", { class: "drop", id: "drop" }, t("drop_here")),
    field("bundle", t("bundle_file"), "file", { accept: ".json,application/json" }),
    field("document", t("document_file"), "file", { required: false }),
    h("details", {}, h("summary", {}, t("ledger_key_title")), h("p", { class: "meta" }, t("ledger_key_help")), keyField),
    h("button", { type: "submit", class: "primary" }, t("verify_button")));
  const [, keyInput] = keyField;
  onSubmit(form, { bundle: ["bundle", "malformed", "too_large"], ledger_key: ["ledger_key"] }, async (data) => {
    result.replaceChildren();
    const bundle = data.get("bundle");
    if (!bundle?.size) throw new ApiError(0, "bundle", t("choose_bundle"));
    const document = data.get("document");
    const key = String(data.get("ledger_key")).trim() || await publishedLedgerKey();
    const answer = await verifyBundle(key, await bundle.arrayBuffer(),
      document?.size ? await document.arrayBuffer() : null);
    if (!answer.ok && answer.code !== "not_verified" && answer.code !== "other_document") {
      throw new ApiError(0, answer.code, answer.message);
    }
    const shown = verdict(answer);
    // Issuance is proven; revocation or an update since is the service's to say.
    if (answer.ok) {
      shown.append(h("p", { class: "meta" }, t("proves_issuance")), await currentStatus(await bundle.arrayBuffer()));
    }
    result.replaceChildren(shown);
    result.scrollIntoView({ block: "start" });
  });
  // A bundle (and a document) dropped anywhere on the form goes into its field and is checked.
  form.addEventListener("dragover", (event) => { event.preventDefault(); form.classList.add("dragging"); });
  form.addEventListener("dragleave", () => form.classList.remove("dragging"));
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    form.classList.remove("dragging");
    const files = [...event.dataTransfer.files];
    const bundle = files.find((file) => file.name.endsWith(".json"));
    const document = files.find((file) => file !== bundle);
    for (const [name, file] of [["bundle", bundle], ["document", document]]) {
      if (!file) continue;
      const chosen = new DataTransfer();
      chosen.items.add(file);
      form.elements[name].files = chosen.files;
    }
    if (bundle) form.requestSubmit();
  });
  page(t("verify_title"), h("p", {}, t("verify_intro")), form, result,
    !state.locker && h("p", {}, h("a", { href: "#/login" }, t("have_account"))));
  try {
    const published = await publishedLedgerKey();
    if (!keyInput.value) keyInput.value = published;
  } catch (error) { say(error.message); }
}

// The pages a QR code opens, for anyone: no login, and nothing to choose.

// A document's QR code carries its proof reference: the bundle it names is checked here, in
// the browser, as a bundle file is on the Verify form; the paper is what the reader compares.
async function verifyRefPage(ref) {
  const result = h("div", { id: "verify-result", "aria-live": "polite" }, h("p", { class: "meta" }, t("verifying")));
  page(t("verify_title"), result, verifyElsewhere());
  try {
    // A reference is dot-separated words: nothing that moves the fetch to another path.
    if (!/^[\w-]+(\.[\w-]+)*$/.test(ref)) throw new ApiError(404, "unknown_proof", t("unknown_proof"));
    // Whatever a 404 says, to the reader the reference is unknown.
    const response = await api("GET", `/v1/proofs/${ref}`).catch((error) => {
      throw error.status === 404 ? new ApiError(404, "unknown_proof", t("unknown_proof")) : error;
    });
    const bundle = await response.arrayBuffer();
    const answer = await verifyBundle(await publishedLedgerKey(), bundle, null);
    const shown = verdict(answer);
    if (answer.ok) {
      shown.append(h("p", { class: "meta" }, t("proves_issuance")), await currentStatus(bundle),
        h("p", { id: "compare-paper" }, t("compare_paper")));
    }
    result.replaceChildren(shown);
  } catch (error) {
    result.replaceChildren(h("p", { class: "error", id: "verdict", role: "alert" }, verifyFailure(error)));
  }
}

// A share link's QR code: the shared document's bytes are checked against its bundle too.
async function verifySharedPage(path) {
  const title = h("h2", { class: "section" });
  const checked = h("div", { id: "verification", "aria-live": "polite" }, h("p", { class: "meta" }, t("verifying")));
  page(t("verify_title"), title, checked, verifyElsewhere());
  try {
    // A locker and a share id, as a share link's address has them, and nothing else.
    if (!/^[\w-]+\/[\w-]+$/.test(path)) throw new ApiError(404, "bad_link", t("bad_link"));
    const doc = await getJson(`/v1/shared/${path}`);
    title.replaceChildren(doc.name);
    if (doc.revoked_by_issuer) title.append(" ", h("span", { class: "badge revoked" }, t("status_revoked")));
    await verification(doc.bundle_url, bytesOf(doc.content_url), checked);
  } catch (error) {
    checked.replaceChildren(h("p", { class: "error", id: "verdict", role: "alert" }, verifyFailure(error)));
  }
}

function verifyFailure(error) {
  if (error.code === "unknown_proof") return t("unknown_proof");
  if (error.code === "not_yet_checkpointed") return t("not_yet_checkpointed");
  return error.message;
}

function verifyElsewhere() {
  return h("p", {}, h("a", { href: "#/verify" }, t("verify_other")),
    !state.locker && [" · ", h("a", { href: "#/login" }, t("have_account"))]);
}

// A document's bytes for the verifier; null when there are none to have (then the record
// alone is checked, and the verdict says so).
async function bytesOf(path) {
  try {
    return await (await api("GET", path)).arrayBuffer();
  } catch {
    return null;
  }
}

function detailTable(rows) {
  return h("table", {}, h("tbody", {}, rows.filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))));
}

// Finds an item of a paged list, page by page.
async function findIn(path, wanted) {
  let cursor = null;
  do {
    const list = await getJson(`${path}?limit=200${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    const found = list.items.find(wanted);
    if (found) return found;
    cursor = list.next_cursor;
  } while (cursor);
  return undefined;
}

async function documentPage(uri) {
  const doc = await findIn("/v1/citizen/certificates", (d) => d.uri === uri);
  if (!doc) { page(t("document"), h("p", {}, uri)); return; }
  const base = `/v1/citizen/certificates/${enc(uri)}`;
  const shown = h("div", {}, t("loading"));
  const results = h("div", { "aria-live": "polite" });
  const checked = h("div", { id: "verification", "aria-live": "polite" });
  page(doc.name,
    h("p", {}, h("span", { class: `badge ${doc.status}` }, t(`status_${doc.status}`))),
    detailTable([
      [t("issuer"), doc.issuer_name ? `${doc.issuer_name} (${doc.issuer})` : doc.issuer],
      [t("doc_type"), doc.doc_type_name ?? doc.doc_type],
      [t("holder"), doc.holder_name],
      [t("issued_on", { date: "" }).replace(/[:\s]+$/, ""), doc.issued_on],
      [t("valid_to", { date: "" }).trim(), doc.valid_to],
      ["URI", doc.uri],
      [t("size"), size(doc.size_bytes)],
      [t("content_hash"), h("code", {}, doc.content_hash)],
    ]),
    h("div", { class: "actions" },
      downloadLink(`${base}/content`, t("download"), doc.uri),
      downloadLink(`${base}/bundle`, t("bundle"), `${doc.uri}.bundle.json`),
      h("a", { href: "#/certificates" }, t("back"))),
    results,
    checked,
    paperSection(base, doc.uri),
    doc.status === "revoked" ? null : esignSection({ uri }, doc.esigned_at_ms),
    shareForm({ uri }),
    shown);
  verification(`${base}/bundle`, preview(`${base}/content`, shown), checked);
  fieldsTable(`${base}/fields`, results);
}

// A printed or shown copy is checked with a phone: the QR code opens the public Verify page
// with the document's proof reference. The code is the owner's (it needs the session), so it
// comes as a blob, as the preview does; the slip is a plain download (the cookie goes along).
function paperSection(base, uri) {
  const code = h("p", { class: "meta" }, t("loading"));
  (async () => {
    try {
      const blob = await (await api("GET", `${base}/qr.svg`)).blob();
      code.replaceWith(h("img", { id: "doc-qr", class: "qr", src: URL.createObjectURL(blob), alt: t("qr_alt") }));
    } catch (error) {
      code.textContent = error.message;
    }
  })();
  return h("section", { class: "card", id: "paper", "aria-labelledby": "paper-title" },
    h("h2", { id: "paper-title" }, t("paper_title")),
    h("div", { class: "paper" }, code,
      h("div", {}, h("p", {}, t("paper_help")),
        h("div", { class: "actions" }, downloadLink(`${base}/slip.pdf`, t("slip"), `${uri}.slip.pdf`)))));
}

// The document's structured results (a marksheet's subjects and marks), opened for its owner.
async function fieldsTable(path, into) {
  try {
    const personal = await getJson(path);
    const rows = [[t("date_of_birth"), personal.date_of_birth], ...personal.fields.map((f) => [f.key, f.value])];
    into.replaceChildren(h("h2", { class: "section" }, t("results")),
      h("table", { id: "results" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("field")), h("th", { scope: "col" }, t("value")))),
        h("tbody", {}, rows.filter(([, v]) => v).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v))))));
  } catch (error) {
    into.replaceChildren(h("p", { class: "meta" }, error.message));
  }
}

async function uploadPage(id) {
  const upload = await findIn("/v1/citizen/uploads", (u) => u.id === id);
  const shown = h("div", {}, t("loading"));
  page(upload?.file_name ?? id, h("p", {}, h("a", { href: "#/certificates/uploaded" }, t("back"))),
    esignSection({ upload_id: id }, upload?.esigned_at_ms), shareForm({ upload_id: id }), shown);
  preview(`/v1/citizen/uploads/${enc(id)}/content`, shown);
}

async function issuersPage() {
  const issuers = await getJson("/v1/citizen/issuers");
  const items = issuers.items ?? issuers;
  page(t("issuers_title"), items.length
    ? h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("issuer")), h("th", { scope: "col" }, t("documents")))),
      h("tbody", {}, items.map((i) => h("tr", {}, h("td", {}, i.name ? `${i.name} (${i.issuer})` : i.issuer), h("td", {}, String(i.documents))))))
    : h("p", {}, t("no_issuers")));
}

// ----- Pulling a document from its issuer -----

// The refusals a pull can end in, each said in the page's words (any other: the server's).
const PULL_REFUSALS = ["no_record", "name_mismatch", "try_later", "issuer_unavailable", "invalid_answer",
  "name_required", "rate_limited", "not_pullable"];
// What became of a pull, as the activity shows it.
const PULL_OUTCOMES = ["issued", "no_record", "name_mismatch", "try_later", "issuer_unavailable", "invalid_answer"];

async function pullPage() {
  const offered = (await getJson("/v1/citizen/pull/doc-types")).items;
  if (!offered.length) return page(t("pull_title"), h("p", { id: "pull-none" }, t("pull_none")));
  const value = (o) => `${o.issuer}|${o.doc_type}`;
  const select = h("select", { id: "pull-doc-type" }, h("option", { value: "" }, t("choose")),
    offered.map((o) => h("option", { value: value(o) }, `${o.doc_type_name} — ${o.issuer_name}`)));
  // One live region for the whole page, there from the start, so each answer is announced.
  const result = h("div", { id: "pull-result", role: "status", "aria-live": "polite" });
  const chosen = h("div", {});
  select.addEventListener("change", () => {
    showPull(result, null, "status");
    const offer = offered.find((o) => value(o) === select.value);
    chosen.replaceChildren(...(offer ? [pullForm(offer, result)] : []));
  });
  page(t("pull_title"), h("p", {}, t("pull_intro")),
    h("div", { class: "card pull" }, h("label", { for: "pull-doc-type" }, t("document")), select, chosen, result));
}

// The identifiers the doc type asks for, each as the input its kind calls for.
function pullForm(offer, result) {
  const form = h("form", { id: "pull-form", novalidate: true }, offer.identifiers.flatMap(identifierInput),
    h("button", { type: "submit", class: "primary", id: "pull-submit" }, t("pull_submit")));
  onSubmit(form, {}, async (data) => {
    // Every value as text; a field left empty is not sent (the server names a missing one).
    const identifiers = {};
    for (const { key } of offer.identifiers) {
      const given = String(data.get(key) ?? "").trim();
      if (given) identifiers[key] = given;
    }
    showPull(result, "wait", "status", t("pull_asking"));
    try {
      const pulled = await (await api("POST", "/v1/citizen/pulls", {
        json: { issuer: offer.issuer, doc_type: offer.doc_type, identifiers },
      })).json();
      showPull(result, "good", "status",
        t(pulled.status === "already_present" ? "pull_already" : "pull_issued", { name: pulled.name }), " ",
        h("a", { href: `#/document/${enc(pulled.uri)}`, id: "pull-open" }, t("pull_open")));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showPull(result, "bad", "alert", ...pullRefusal(error));
    }
  });
  return form;
}

function identifierInput(spec) {
  // Prefixed: an identifier's key cannot take the id of the form or its button.
  const id = `pull-id-${spec.key}`;
  const common = { id, name: spec.key, required: spec.required };
  const kind = spec.kind;
  let input;
  if (kind === "date") input = h("input", { ...common, type: "date" });
  else if (kind.integer) {
    input = h("input", { ...common, type: "number", inputmode: "numeric", step: "1", min: kind.integer.min, max: kind.integer.max });
  } else if (kind.choice) {
    input = h("select", common, h("option", { value: "" }, t("choose")), kind.choice.values.map((v) => h("option", { value: v }, v)));
  } else input = h("input", { ...common, type: "text", autocomplete: "off", maxlength: kind.text?.max_chars });
  return [h("label", { for: id }, spec.label, !spec.required && ` ${t("optional")}`), input];
}

function pullRefusal(error) {
  if (error.code === "name_required") return [t("pull_name_required"), " ", h("a", { href: "#/profile" }, t("nav_profile"))];
  return [PULL_REFUSALS.includes(error.code) ? t(`pull_${error.code}`) : error.message];
}

// Says what a pull came to in the page's one result box (empty: nothing to say yet).
function showPull(box, tone, role, ...content) {
  box.setAttribute("role", role);
  box.setAttribute("aria-live", role === "alert" ? "assertive" : "polite");
  box.className = tone ? `notice ${tone}` : "";
  box.replaceChildren(...content);
}

async function profilePage() {
  const profile = await getJson("/v1/citizen/profile");
  const content = [detailTable([
    [t("username"), profile.username], [t("locker_id"), h("code", {}, profile.locker)],
    [t("mobile").replace(/\s*\(.*\)/, ""), profile.mobile], [t("name"), profile.name],
    [t("date_of_birth"), profile.date_of_birth],
    [t("aadhaar"), profile.aadhaar_linked ? t("linked", { last4: profile.aadhaar_last4 }) : t("not_linked")],
  ])];
  if (profile.kyc) content.push(kycSection(profile.kyc));
  if (!profile.aadhaar_linked) content.push(aadhaarForm());
  content.push(yourData(profile.locker));
  page(t("profile_title"), ...content);
}

// Your data: take everything along, or close the locker (a warning, the password, then a
// confirmation; nothing happens before the last step).
function yourData(locker) {
  const start = h("button", { type: "button", class: "secondary danger", id: "close-start" }, t("close_start"));
  const section = h("section", { class: "card", id: "your-data" },
    h("h2", {}, t("your_data_title")),
    h("p", {}, t("export_intro")),
    h("div", { class: "actions" }, downloadLink("/v1/citizen/export", t("export_button"), "locker-export.zip")),
    h("h3", { class: "danger-title" }, t("close_title")),
    h("p", { class: "warning", id: "close-warning" }, t("close_warning")),
    start);
  start.addEventListener("click", () => start.replaceWith(closeForm(locker)));
  return section;
}

function closeForm(locker) {
  const form = h("form", { id: "close-form", novalidate: true, "aria-describedby": "close-warning" },
    field("close-password", t("close_password"), "password", { autocomplete: "current-password", name: "password" }),
    h("button", { type: "submit", class: "primary" }, t("close_continue")));
  onSubmit(form, { password: ["credentials", "locked_out", "too_many"] }, async (data) => {
    const password = String(data.get("password"));
    const confirm = h("div", { id: "close-confirm", role: "alertdialog", "aria-labelledby": "close-confirm-title", "aria-describedby": "close-confirm-text" },
      h("h3", { id: "close-confirm-title" }, t("close_confirm_title")),
      h("p", { id: "close-confirm-text" }, t("close_confirm", { locker })),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary danger", id: "close-now", onclick: async (event) => {
          event.target.disabled = true;
          try {
            const closed = await (await api("POST", "/v1/citizen/close", { json: { password } })).json();
            state.locker = null; state.csrf = null;
            frame();
            page(t("closed_title"), h("p", { id: "closed" }, t("closed_text", { count: closed.consents_ended })));
          } catch (error) {
            if (!(error instanceof ApiError)) throw error;
            const again = closeForm(locker);
            confirm.replaceWith(again);
            showError(again, error, { password: ["credentials", "locked_out", "too_many"] });
          }
        } }, t("close_now")),
        h("button", { type: "button", class: "secondary", id: "close-keep", onclick: () => profilePage() }, t("close_keep"))));
    form.replaceWith(confirm);
    confirm.querySelector("#close-keep").focus();
  });
  return form;
}

// The resident's data as the Aadhaar authority holds it (its e-KYC answer).
function kycSection(kyc) {
  const address = kyc.address.map((a) => a.value).join(", ");
  return h("section", { class: "card", id: "kyc" },
    h("h2", {}, t("kyc_title")),
    detailTable([[t("name"), kyc.name], [t("date_of_birth"), kyc.date_of_birth],
      [t("gender"), t(`gender_${kyc.gender}`)], [t("address"), address]]),
    h("p", { class: "meta" }, t("kyc_source")));
}

// Linking proves the number: the Aadhaar authority texts a code to the mobile it holds for
// it, and the code comes back here.
function aadhaarForm() {
  const form = h("form", { class: "card", id: "aadhaar-form", novalidate: true },
    h("h2", {}, t("link_aadhaar")),
    field("aadhaar", t("aadhaar_number"), "text", { inputmode: "numeric", autocomplete: "off" }),
    h("button", { type: "submit", class: "primary" }, t("send_aadhaar_otp")));
  onSubmit(form, { aadhaar: ["aadhaar", "invalid_aadhaar", "aadhaar_no_mobile", "aadhaar_suspended"] }, async (data) => {
    const sent = await (await api("POST", "/v1/citizen/aadhaar/otp", { json: { aadhaar: String(data.get("aadhaar")).replace(/\s/g, "") } })).json();
    const confirm = h("form", { class: "card", id: "aadhaar-otp-form", novalidate: true },
      h("h2", {}, t("link_aadhaar")),
      h("p", {}, t("aadhaar_otp_sent", { mobile: sent.sent_to })),
      field("otp", t("otp"), "text", { inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6 }),
      h("button", { type: "submit", class: "primary" }, t("link_aadhaar")));
    onSubmit(confirm, { otp: ["otp", "invalid_otp", "otp_expired", "otp_not_requested"] }, async (code) => {
      await api("POST", "/v1/citizen/aadhaar", { json: { txn: sent.txn, otp: String(code.get("otp")).trim() } });
      say(t("aadhaar_linked"));
      profilePage();
    });
    form.replaceWith(confirm);
    confirm.querySelector("input").focus();
  });
  return form;
}

// ----- Sharing -----

// The page a share link opens (the API gives the JSON address of the link).
function shareLink(apiUrl) {
  return `${location.origin}/#/shared/${apiUrl.replace(/^\/v1\/shared\//, "")}`;
}

function copyButton(text) {
  const button = h("button", { type: "button", class: "secondary", onclick: async () => {
    try { await navigator.clipboard.writeText(text); say(t("copied")); } catch { say(text); }
  } }, t("copy"));
  return button;
}

function shareForm(what) {
  const result = h("div", { "aria-live": "polite" });
  const choices = [[60, "expiry_hour"], [24 * 60, "expiry_day"], [7 * 24 * 60, "expiry_week"]];
  const form = h("form", { class: "card", id: "share-form", novalidate: true },
    h("h2", {}, t("share_title")),
    h("label", { for: "f-expiry" }, t("expires_in")),
    h("select", { id: "f-expiry", name: "expiry" },
      choices.map(([minutes, key]) => h("option", { value: String(minutes), selected: minutes === 24 * 60 }, t(key)))),
    h("button", { type: "submit", class: "primary" }, t("create_link")),
    result);
  onSubmit(form, { expiry: ["expiry"] }, async (data) => {
    const share = await (await api("POST", "/v1/citizen/shares", {
      json: { ...what, expires_in_minutes: Number(data.get("expiry")) },
    })).json();
    const link = shareLink(share.url);
    result.replaceChildren(
      h("p", {}, t("link_ready", { date: when(share.expires_at_ms) })),
      h("p", {}, h("a", { href: link, id: "share-link" }, link)),
      copyButton(link));
  });
  return form;
}

function when(ms) {
  return new Date(ms).toLocaleString(state.lang === "hi" ? "hi-IN" : "en-IN");
}

async function sharesPage() {
  const shares = await getJson("/v1/citizen/shares");
  const rows = shares.map((share) => {
    const link = shareLink(share.url);
    const revoke = share.live && actionButton(t("revoke"), async () => {
      await api("POST", `/v1/citizen/shares/${enc(share.id)}/revoke`);
      say(t("link_revoked"));
      sharesPage();
    });
    const status = share.revoked ? t("revoked") : share.live ? t("live_until", { date: when(share.expires_at_ms) }) : t("expired");
    return h("li", { class: `card ${share.live ? "active" : "expired"}` },
      h("h2", {}, share.uri ?? share.upload_id),
      h("p", { class: "meta" }, status),
      h("p", { class: "meta" }, t("views", { count: share.views })),
      share.live && h("p", {}, h("a", { href: link }, link)),
      h("div", { class: "actions" }, share.live && copyButton(link), revoke));
  });
  page(t("nav_shares"), rows.length ? h("ul", { class: "docs" }, rows) : h("p", {}, t("no_shares")));
}

// The public page of a share link: the document, for anyone holding the link.
async function sharedPage(path) {
  const doc = await getJson(`/v1/shared/${path}`);
  const shown = h("div", {}, t("loading"));
  const checked = h("div", { id: "verification", "aria-live": "polite" });
  page(doc.name,
    doc.revoked_by_issuer && h("p", {}, h("span", { class: "badge revoked" }, t("status_revoked"))),
    detailTable([
      [t("issuer"), doc.issuer], [t("holder"), doc.holder_name], [t("issued_on", { date: "" }).replace(/[:\s]+$/, ""), doc.issued_on],
      ["URI", doc.uri ?? doc.upload_id], [t("content_hash"), h("code", {}, doc.content_hash)],
      [t("link_expires"), when(doc.expires_at_ms)],
    ]),
    h("div", { class: "actions" },
      downloadLink(doc.content_url, t("download"), doc.uri ?? doc.upload_id),
      downloadLink(doc.bundle_url, t("bundle"), `${doc.uri ?? doc.upload_id}.bundle.json`)),
    checked,
    h("section", { class: "card", "aria-labelledby": "share-qr-title" },
      h("h2", { id: "share-qr-title" }, t("phone_title")),
      h("div", { class: "paper" },
        h("img", { id: "share-qr", class: "qr", src: `/v1/shared/${path}/qr.svg`, alt: t("qr_alt") }),
        h("p", {}, t("share_qr_help")))),
    shown);
  verification(doc.bundle_url, preview(doc.content_url, shown), checked);
}

// ----- Consents, activity, requesters, directories -----

let requesterNames = null;
async function requesterName(id) {
  if (!requesterNames) {
    const list = await getJson("/v1/directory/requesters?limit=200");
    requesterNames = new Map(list.items.map((r) => [r.id, r.name]));
  }
  return requesterNames.get(id) ? `${requesterNames.get(id)} (${id})` : id;
}

// What a consent asks for, in words: "Class XII Marksheet (Central Board of Secondary
// Education)" for `in.gov.cbse-HSCER`, with the document's id for one document.
let issuerDirectory = null;
async function itemName(item) {
  if (!issuerDirectory) {
    const list = await getJson("/v1/directory/issuers?limit=200");
    issuerDirectory = new Map(list.items.map((i) => [i.id, i]));
  }
  const [issuerId, rest = ""] = item.split(/-(.*)/s);
  const issuer = issuerDirectory.get(issuerId);
  const [code, docId] = rest.split(/-(.*)/s);
  const type = issuer?.doc_types.find((d) => d.code === code);
  if (!issuer || !type) return item;
  return `${type.name} (${issuer.name})${docId ? ` ${docId}` : ""}`;
}

function matches(item, uri) { return uri === item || uri.startsWith(`${item}-`); }

async function consentCard(consent, certificates) {
  const who = await requesterName(consent.requester);
  const asked = await Promise.all(consent.items.map(itemName));
  const card = h("li", { class: "card", id: `consent-${consent.id}` },
    h("h2", {}, who),
    h("p", { class: "meta" }, t("purpose", { purpose: consent.purpose })),
    h("p", { class: "meta", title: consent.items.join(", ") }, t("asked_for", { items: asked.join(", ") })),
    termsList(consent.terms),
    consent.state === "paused" && h("span", { class: "badge expired" }, t("consent_paused")),
    h("p", { class: "meta" }, consent.state === "pending"
      ? t("answer_by", { date: when(consent.request_expires_at_ms) })
      : consent.access_expires_at_ms ? t("access_until", { date: when(consent.access_expires_at_ms) }) : t(`consent_${consent.state}`)),
    consent.state !== "pending" && h("p", { class: "meta" }, t("accesses", { count: consent.accesses })),
    consent.refusals > 0 && h("p", { class: "meta" }, t("refusals", { count: consent.refusals })));
  if (consent.state === "pending") {
    const offered = certificates.filter((d) => consent.items.some((item) => matches(item, d.uri)));
    const form = h("form", { id: `grant-${consent.id}`, novalidate: true },
      h("fieldset", {}, h("legend", {}, t("choose_documents")),
        offered.length ? offered.map((d) => h("label", { class: "check" },
          h("input", { type: "checkbox", name: "documents", value: d.uri, checked: true }), ` ${d.name}`))
          : h("p", { class: "meta" }, t("no_matching"))),
      h("label", { for: `days-${consent.id}` }, t("access_days")),
      h("input", { id: `days-${consent.id}`, name: "days", type: "text", inputmode: "numeric", value: "30" }),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary" }, t("grant")),
        actionButton(t("deny"), async () => {
          await api("POST", `/v1/citizen/consents/${enc(consent.id)}/deny`);
          say(t("denied"));
          consentsPage();
        })));
    onSubmit(form, { days: ["access", "days"], documents: ["document"] }, async (data) => {
      const documents = data.getAll("documents");
      await api("POST", `/v1/citizen/consents/${enc(consent.id)}/grant`, {
        json: { documents, access_days: Number(data.get("days")) },
      });
      say(t("granted", { who }));
      consentsPage();
    });
    card.append(form);
  } else if (consent.state === "active" || consent.state === "paused") {
    const decide = (action, said) => actionButton(t(action), async () => {
      await api("POST", `/v1/citizen/consents/${enc(consent.id)}/${action}`);
      say(t(said, { who }));
      consentsPage();
    });
    card.append(h("div", { class: "actions" },
      consent.state === "active" ? decide("pause", "paused_ok") : decide("resume", "resumed_ok"),
      decide("revoke", "consent_revoked_ok")));
  }
  if (consent.state !== "pending") {
    card.append(h("div", { class: "actions" }, downloadLink(
      `/v1/citizen/consents/${enc(consent.id)}/artefact`, t("artefact"), `consent-${consent.id}.artefact.json`)));
  }
  return card;
}

// What the requester asked to be allowed, as the Account Aggregator framework's terms say it.
function termsList(terms) {
  if (!terms) return null;
  return h("ul", { class: "terms" },
    h("li", {}, t("terms_fetches", { count: terms.fetches, per: t(`per_${terms.per}`) })),
    h("li", {}, t("terms_data_life", { days: terms.data_life_days })),
    h("li", {}, t("terms_window", { from: when(terms.access_from_ms), to: when(terms.access_until_ms) })));
}

// While the consents are shown, a request that arrives appears without a reload.
let consentWatch = null;
function watchConsents(shown) {
  clearTimeout(consentWatch);
  consentWatch = setTimeout(async () => {
    if (location.hash !== "#/consents" || !state.locker) return;
    try {
      const pending = await getJson("/v1/citizen/consents?state=pending");
      if (pending.some((c) => !shown.has(c.id))) {
        say(t("new_request"));
        return consentsPage();
      }
    } catch { /* shown again on the next turn */ }
    watchConsents(shown);
  }, CONSENT_WATCH_MS);
}
const CONSENT_WATCH_MS = 3000;

async function consentsPage() {
  const [consents, certificates] = await Promise.all([
    getJson("/v1/citizen/consents"), getJson("/v1/citizen/certificates?limit=200"),
  ]);
  watchConsents(new Set(consents.filter((c) => c.state === "pending").map((c) => c.id)));
  pendingCount = consents.filter((c) => c.state === "pending").length;
  showPending();
  const groups = [[["pending"], "consents_pending"], [["active", "paused"], "consents_active"]];
  const sections = [];
  for (const [wanted, key] of groups) {
    const cards = await Promise.all(consents.filter((c) => wanted.includes(c.state)).map((c) => consentCard(c, certificates.items)));
    sections.push(h("h2", { class: "section" }, t(key)),
      cards.length ? h("ul", { class: "docs" }, cards) : h("p", { class: "meta" }, t("none")));
  }
  const past = await Promise.all(consents.filter((c) => !["pending", "active", "paused"].includes(c.state)).map((c) => consentCard(c, [])));
  if (past.length) sections.push(h("h2", { class: "section" }, t("consents_past")), h("ul", { class: "docs" }, past));
  page(t("nav_consents"), ...sections);
}

async function activityPage() {
  const list = await getJson("/v1/citizen/activity?limit=200");
  const rows = await Promise.all(list.items.map(async (a) => h("tr", {},
    h("td", {}, when(a.at_ms)), h("td", {}, await accessor(a)),
    h("td", {}, a.document ?? ""), h("td", {}, a.consent_or_share ?? ""))));
  page(t("nav_activity"), rows.length
    ? h("table", {}, h("thead", {}, h("tr", {}, ["when", "who", "document", "through"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, rows))
    : h("p", {}, t("no_activity")));
}

// Who an activity entry was: a requester, a share link, or the citizen herself pulling.
async function accessor(a) {
  if (a.by === "share link") return t("share_link");
  if (a.by === "pull" && a.pull) {
    const { issuer, doc_type, outcome } = a.pull;
    const said = PULL_OUTCOMES.includes(outcome) ? t(`outcome_${outcome}`) : outcome;
    return t("pulled_from", { issuer, doc_type, outcome: said });
  }
  return requesterName(a.by);
}

async function requestersPage() {
  const list = await getJson("/v1/citizen/requesters");
  page(t("nav_requesters"), list.length
    ? h("table", {}, h("thead", {}, h("tr", {}, ["requester", "requested", "accessed"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, list.map((r) => h("tr", {}, h("td", {}, r.name ? `${r.name} (${r.requester})` : r.requester),
        h("td", {}, String(r.requested)), h("td", {}, String(r.accessed))))))
    : h("p", {}, t("no_requesters")));
}

async function directoryPage() {
  const [issuers, requesters] = await Promise.all([
    getJson("/v1/directory/issuers?limit=200"), getJson("/v1/directory/requesters?limit=200"),
  ]);
  const search = h("input", { id: "f-search", type: "search", "aria-controls": "directory-lists" });
  const issuerItems = issuers.items.map((i) => h("li", { class: "card", "data-text": `${i.name} ${i.id} ${i.doc_types.map((d) => d.name).join(" ")}`.toLowerCase() },
    h("h3", {}, i.name), h("p", { class: "meta" }, i.id), h("p", { class: "meta" }, i.doc_types.map((d) => d.name).join(", ")),
    i.suspended && h("span", { class: "badge revoked" }, t("suspended"))));
  const requesterItems = requesters.items.map((r) => h("li", { class: "card", "data-text": `${r.name} ${r.id} ${r.kind}`.toLowerCase() },
    h("h3", {}, r.name), h("p", { class: "meta" }, `${r.id} · ${r.kind}`),
    r.suspended && h("span", { class: "badge revoked" }, t("suspended"))));
  search.addEventListener("input", () => {
    const wanted = search.value.trim().toLowerCase();
    for (const item of [...issuerItems, ...requesterItems]) item.hidden = wanted !== "" && !item.dataset.text.includes(wanted);
  });
  page(t("nav_directory"), h("label", { for: "f-search" }, t("search")), search,
    h("div", { id: "directory-lists" },
      h("h2", { class: "section" }, t("issuers")), h("ul", { class: "docs" }, issuerItems),
      h("h2", { class: "section" }, t("requesters")), h("ul", { class: "docs" }, requesterItems)));
}

// ----- Frame -----

const SECTIONS = [
  ["#/certificates", "nav_certificates"], ["#/consents", "nav_consents"], ["#/shares", "nav_shares"],
  ["#/activity", "nav_activity"], ["#/issuers", "nav_issuers"], ["#/pull", "nav_pull"], ["#/requesters", "nav_requesters"],
  ["#/directory", "nav_directory"], ["#/profile", "nav_profile"], ["#/verify", "nav_verify"],
];

function frame() {
  document.documentElement.lang = state.lang;
  document.getElementById("brand").textContent = t("brand");
  document.getElementById("skip-link").textContent = t("skip");
  const lang = document.getElementById("lang");
  lang.textContent = t("other_language");
  lang.lang = state.lang === "en" ? "hi" : "en";
  const logout = document.getElementById("logout");
  logout.textContent = t("logout");
  logout.hidden = !state.locker;
  const nav = document.getElementById("nav");
  nav.hidden = !state.locker;
  nav.classList.remove("open");
  nav.replaceChildren(...SECTIONS.map(([href, key]) =>
    h("a", { href, "aria-current": location.hash.startsWith(href) ? "page" : false }, t(key),
      href === "#/consents" && h("span", { id: "pending-count", class: "count" }))));
  tabBar();
  showPending();
  watchPending();
}

// On a phone the sections are a bar at the bottom of the screen, where a thumb reaches: the
// four used most, and "More" for the rest (the full list opens above it).
const TABS = [["#/certificates", "tab_certificates"], ["#/consents", "nav_consents"], ["#/shares", "tab_shares"]];
function tabBar() {
  const tabs = document.getElementById("tabs");
  tabs.hidden = !state.locker;
  const nav = document.getElementById("nav");
  const more = h("button", { type: "button", id: "more", "aria-controls": "nav", "aria-expanded": "false" }, t("more"));
  more.addEventListener("click", () => {
    const open = !nav.classList.contains("open");
    nav.classList.toggle("open", open);
    more.setAttribute("aria-expanded", String(open));
    if (open) nav.querySelector("a")?.focus();
  });
  // A section chosen from the list closes it (the current one too: no page change then).
  nav.onclick = (event) => {
    if (!event.target.closest("a")) return;
    nav.classList.remove("open");
    more.setAttribute("aria-expanded", "false");
  };
  tabs.replaceChildren(...TABS.map(([href, key]) =>
    h("a", { href, "aria-current": location.hash.startsWith(href) ? "page" : false }, t(key))), more);
}

// Requests waiting for an answer, beside Consents on every page, checked now and then.
let pendingCount = 0;
let pendingWatch = null;
function showPending() {
  const badge = document.getElementById("pending-count");
  if (!badge) return;
  badge.textContent = pendingCount ? ` (${pendingCount})` : "";
  badge.title = pendingCount ? t("pending_count", { count: pendingCount }) : "";
}
async function checkPending() {
  if (!state.locker) return;
  try {
    pendingCount = (await getJson("/v1/citizen/consents?state=pending")).length;
    showPending();
  } catch { /* shown again on the next check */ }
}
function watchPending() {
  if (pendingWatch || !state.locker) return;
  checkPending();
  pendingWatch = setInterval(() => {
    if (!state.locker) { clearInterval(pendingWatch); pendingWatch = null; return; }
    checkPending();
  }, PENDING_WATCH_MS);
}
const PENDING_WATCH_MS = 15000;

async function route() {
  const hash = location.hash || "#/certificates";
  if (hash.startsWith("#/shared/")) {
    frame();
    try { return await sharedPage(hash.slice("#/shared/".length)); } catch (error) {
      if (error instanceof ApiError) return page(t("shared_title"), h("p", { class: "error", role: "alert" }, error.message));
      throw error;
    }
  }
  // Public: anyone may check a bundle, logged in or not, and open what a QR code points to.
  const open = ["#/login", "#/signup", "#/verify"];
  const isOpen = open.includes(hash) || hash.startsWith("#/verify/");
  if (!state.locker && !isOpen) {
    try {
      const session = await getJson("/v1/citizen/session");
      state.locker = session.locker; state.csrf = session.csrf_token;
    } catch {
      location.hash = "#/login"; return;
    }
  }
  frame();
  const [, name, arg] = hash.match(/^#\/([a-z]+)(?:\/(.*))?$/) ?? [];
  try {
    if (name === "login") return loginPage();
    if (name === "signup") return signupPage();
    if (name === "verify" && arg?.startsWith("ref/")) return await verifyRefPage(arg.slice("ref/".length));
    if (name === "verify" && arg?.startsWith("shared/")) return await verifySharedPage(arg.slice("shared/".length));
    if (name === "verify") return await verifyPage();
    if (name === "certificates") return await certificatesPage(arg === "uploaded" ? "uploaded" : "issued");
    if (name === "document") return await documentPage(decodeURIComponent(arg ?? ""));
    if (name === "upload") return await uploadPage(decodeURIComponent(arg ?? ""));
    if (name === "issuers") return await issuersPage();
    if (name === "pull") return await pullPage();
    if (name === "requesters") return await requestersPage();
    if (name === "consents") return await consentsPage();
    if (name === "shares") return await sharesPage();
    if (name === "activity") return await activityPage();
    if (name === "directory") return await directoryPage();
    if (name === "profile") return await profilePage();
    go("#/certificates");
  } catch (error) {
    if (error instanceof ApiError) return say(error.message);
    console.error(error);
    say(t("page_error"));
  }
}

document.getElementById("lang").addEventListener("click", () => {
  state.lang = state.lang === "en" ? "hi" : "en";
  localStorage.setItem("lang", state.lang);
  route();
});
document.getElementById("logout").addEventListener("click", async () => {
  try { await api("POST", "/v1/citizen/logout"); } catch { /* the session may be gone already */ }
  state.locker = null; state.csrf = null;
  say(t("logged_out"));
  go("#/login");
});
window.addEventListener("hashchange", () => {
  if (!moving) say("");
  moving = false;
  route();
});
route();
