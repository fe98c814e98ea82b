//! The citizen's web locker in a real browser: Debian's headless Chromium driven over
//! WebDriver (chromedriver) against a real `locker serve --demo`. Screenshots of the main pages
//! at phone (360 px) and desktop widths are written to `<target>/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::journey::{gateway, serve};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(15);

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver on a free port; fails plainly when the browser is not installed.
async fn driver() -> Driver {
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: the browser tests need Debian's chromium and chromium-driver \
             (scripts/test installs them)"
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver { child, url: format!("http://127.0.0.1:{port}") }
}

/// A fresh browser (its own profile: a second one is a second person).
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session in chromium")
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("../target")
    });
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots folder");
    dir
}

/// Saves the page at phone and desktop widths as `<name>-phone.png` and `<name>-desktop.png`,
/// and checks it for accessibility at both.
async fn screenshots(c: &Client, name: &str) {
    for (width, height, suffix) in [(360, 780, "phone"), (1280, 900, "desktop")] {
        c.set_window_size(width, height).await.expect("resize");
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(screenshots_dir().join(format!("web-{name}-{suffix}.png")), png)
            .expect("write screenshot");
        accessible(c, &format!("{name} at {width} px")).await;
    }
}

/// axe-core, fetched by `scripts/browser` (which `scripts/test` runs).
fn axe_script() -> String {
    let path = std::env::var_os("LOCKER_AXE_JS").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache")
        });
        cache.join("locker/axe-core-4.14.1/axe.min.js")
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the browser tests check pages with axe-core (scripts/browser fetches it)",
            path.display()
        )
    })
}

/// Runs axe-core on the page as it is shown: no WCAG 2.1 A or AA violation (labels, names,
/// contrast, landmarks, ARIA, language) may be found.
async fn accessible(c: &Client, what: &str) {
    let violations = axe(c).await;
    assert!(violations.is_empty(), "accessibility of {what}: {violations:#?}");
}

/// What axe-core finds on the page: one entry per rule broken.
async fn axe(c: &Client) -> Vec<serde_json::Value> {
    // The page is one document across its hash routes: load axe once per document.
    if c.execute("return typeof axe", vec![]).await.expect("axe?") != json!("object") {
        c.execute(&axe_script(), vec![]).await.expect("load axe-core");
    }
    let script = r#"
        const done = arguments[0];
        axe.run(document, {
          runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
          resultTypes: ["violations"],
        }).then((r) => done(r.violations.map((v) => ({
          rule: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
        })))).catch((e) => done([{ rule: "axe-error", help: String(e) }]));
    "#;
    let violations = c.execute_async(script, vec![]).await.expect("run axe-core");
    violations.as_array().expect("a list").clone()
}

/// Waits until an element matching `css` shows `needle` in its text; returns that text.
async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        seen.clear();
        for element in c.find_all(Locator::Css(css)).await.unwrap_or_default() {
            let text = element.text().await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            seen.push(text);
        }
        if tokio::time::Instant::now() >= deadline {
            let page = c.source().await.unwrap_or_default();
            panic!("no {css} shows {needle:?}; seen: {seen:?}; the page: {page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let element = c.wait().at_most(WAIT).for_element(Locator::Css(css)).await.expect(css);
    element.clear().await.expect("clear");
    element.send_keys(text).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    let element = c.wait().at_most(WAIT).for_element(Locator::Css(css)).await.expect(css);
    // In the middle of the screen, as a person scrolls to it: on a phone the bottom bar covers
    // the screen's last row.
    let arg = serde_json::to_value(&element).expect("an element as JSON");
    c.execute("arguments[0].scrollIntoView({ block: 'center' })", vec![arg]).await.expect("scroll");
    element.click().await.expect(css);
}

/// What `fetch` from inside the page answers: (status, code).
async fn page_fetch(c: &Client, method: &str, path: &str, csrf: Option<&str>) -> (u64, String) {
    let script = r#"
        const [method, path, csrf, done] = arguments;
        const headers = csrf ? { "x-csrf-token": csrf } : {};
        fetch(path, { method, headers, credentials: "same-origin" })
          .then(async (r) => done([r.status, r.ok ? "" : (await r.json()).code]))
          .catch((e) => done([0, String(e)]));
    "#;
    let answer = c
        .execute_async(script, vec![json!(method), json!(path), json!(csrf)])
        .await
        .expect("fetch in the page");
    (answer[0].as_u64().unwrap_or(0), answer[1].as_str().unwrap_or_default().to_owned())
}

/// The bytes at `path`, fetched by the page (with its session, if it has one).
async fn page_bytes(c: &Client, path: &str) -> Vec<u8> {
    let script = r#"
        const [path, done] = arguments;
        fetch(path, { credentials: "same-origin" })
          .then((r) => r.arrayBuffer())
          .then((b) => done(Array.from(new Uint8Array(b))));
    "#;
    let answer = c.execute_async(script, vec![json!(path)]).await.expect("fetch in the page");
    serde_json::from_value(answer).expect("bytes")
}

/// The document's QR code, as a phone's camera sees it (a screenshot, decoded by rqrr), opens
/// the Verify page in a stranger's browser: "Authentic", without logging in.
async fn paper_checked_by_a_stranger(c: &Client, driver: &Driver, dir: &Path) {
    let qr = c.wait().at_most(WAIT).for_element(Locator::Css("#doc-qr")).await.expect("#doc-qr");
    let arg = serde_json::to_value(&qr).expect("an element as JSON");
    c.execute("arguments[0].scrollIntoView({ block: 'center' })", vec![arg]).await.expect("scroll");
    let deadline = tokio::time::Instant::now() + WAIT;
    while c
        .execute("return document.getElementById('doc-qr').naturalWidth", vec![])
        .await
        .expect("the code's size")
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(tokio::time::Instant::now() < deadline, "the QR code shows");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = crate::qr::png_text(&qr.screenshot().await.expect("a screenshot of the code"));
    assert!(seen.contains("#/verify/ref/"), "{seen}");
    let stranger = browser(driver, &dir.join("profile-stranger")).await;
    stranger.goto(&seen).await.expect("follow the code");
    let verdict = wait_text(&stranger, "#verdict", "Authentic").await;
    assert!(verdict.contains("in.gov.cbse"), "{verdict}");
    screenshots(&stranger, "verify-by-qr").await;
    stranger.close().await.expect("close the stranger's browser");
}

/// The pull page: the demo exam board's Class X marksheet by roll number and year; a
/// classmate's roll number is refused in plain words, hers is in the locker already.
async fn pulls_in_the_page(c: &Client) {
    c.goto(&format!(
        "{}#/pull",
        c.current_url().await.expect("url").as_str().split('#').next().unwrap_or_default()
    ))
    .await
    .expect("the pull page");
    let select =
        c.wait().at_most(WAIT).for_element(Locator::Css("#pull-doc-type")).await.expect("select");
    select.select_by_value("in.gov.cbse|SSCER").await.expect("choose the Class X marksheet");
    fill(c, "#pull-form input[name='roll_no']", "2022-2345678").await;
    fill(c, "#pull-form input[name='year']", "2022").await;
    click(c, "#pull-submit").await;
    wait_text(c, "#pull-result", "does not match").await;
    screenshots(c, "pull-refused").await;
    fill(c, "#pull-form input[name='roll_no']", "2022-1234567").await;
    click(c, "#pull-submit").await;
    wait_text(c, "#pull-result", "already").await;
}

/// Chooses `file` in the verify form and checks it; returns what the page says.
async fn verify_in_page(c: &Client, bundle: &Path, document: Option<&Path>, shows: &str) -> String {
    c.refresh().await.expect("a fresh form");
    for (css, file) in [("#f-bundle", Some(bundle)), ("#f-document", document)] {
        let Some(file) = file else { continue };
        let input = c.wait().at_most(WAIT).for_element(Locator::Css(css)).await.expect(css);
        input.send_keys(&file.display().to_string()).await.expect("choose file");
    }
    click(c, "#verify-form button[type=submit]").await;
    wait_text(c, "#verify-result, #verify-form .error", shows).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_uses_the_web_locker_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sms_gateway, mut sms) = gateway().await;
    let server = serve(&dir.path().join("data"), &sms_gateway, None);
    let base = format!("http://{}", server.address);
    let driver = driver().await;
    let c = browser(&driver, &dir.path().join("profile-a")).await;

    // A visitor lands on the login page; the page carries the strict policy.
    c.goto(&format!("{base}/")).await.expect("open the locker");
    wait_text(&c, "h1", "Log in").await;
    let nav = c.find(Locator::Css("#nav")).await.expect("nav");
    assert!(!nav.is_displayed().await.expect("displayed"), "no locker sections before login");
    // The accessibility check sees what it should: an unlabelled field and faint text fail.
    c.execute(
        "const i = document.createElement('input'); i.id = 'unlabelled'; \
         const p = document.createElement('p'); p.id = 'faint'; p.textContent = 'faint'; \
         p.style.color = '#ddd'; document.querySelector('main').append(i, p);",
        vec![],
    )
    .await
    .expect("break the page");
    let rules: Vec<String> =
        axe(&c).await.iter().map(|v| v["rule"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(rules.contains(&"label".to_owned()), "{rules:?}");
    assert!(rules.contains(&"color-contrast".to_owned()), "{rules:?}");
    c.execute("document.getElementById('unlabelled').remove(); document.getElementById('faint').remove();", vec![])
        .await
        .expect("mend the page");
    screenshots(&c, "login").await;

    // A wrong password: the server's message beside the field, nothing else happens.
    fill(&c, "#f-username", "asha").await;
    fill(&c, "#f-password", "not-her-password").await;
    click(&c, "#login-form button[type=submit]").await;
    wait_text(&c, "#login-form .error", "wrong username or password").await;

    // The demo citizen logs in from the keyboard alone: Tab to the password, Enter to submit.
    // Her CBSE marksheet shows, valid, with issuer and dates.
    fill(&c, "#f-username", "asha\u{E004}").await;
    let focused = c.active_element().await.expect("focus");
    assert_eq!(focused.attr("id").await.expect("id").as_deref(), Some("f-password"), "Tab");
    focused.clear().await.expect("clear");
    focused.send_keys("asha-demo-2024\u{E007}").await.expect("type and Enter");
    let card = wait_text(&c, ".docs .card", "Issued by").await;
    assert!(card.contains("Central Board of Secondary Education"), "{card}");
    assert!(card.contains("Valid"), "{card}");

    // The board issues her an old marksheet that has expired: it is marked so.
    let locker = c
        .execute_async(
            "const done = arguments[0]; fetch('/v1/citizen/session').then(r => r.json()).then(j => done(j.locker));",
            vec![],
        )
        .await
        .expect("her locker id");
    let pdf = dir.path().join("old.pdf");
    std::fs::write(&pdf, "%PDF-1.4\n% an old marksheet\n%%EOF\n").expect("write pdf");
    let board_key = dir.path().join("data/demo-keys/in.gov.cbse.key");
    let (ok, out, err) = crate::journey::locker(crate::journey::owned(&[
        "issue",
        "--server",
        &base,
        "--key",
        board_key.to_str().expect("path"),
        "--issuer",
        "in.gov.cbse",
        "--locker",
        locker.as_str().expect("locker"),
        "--doc-type",
        "SSCER",
        "--doc-id",
        "2012-0000042",
        "--name",
        "Class X Marksheet 2012",
        "--issued-on",
        "2012-05-20",
        "--valid-to",
        "2020-05-20",
        "--holder",
        "Asha Kumari",
        "--content",
        pdf.to_str().expect("path"),
    ]))
    .await;
    assert!(ok, "locker issue: {out} {err}");
    c.refresh().await.expect("reload");
    let expired = wait_text(&c, ".docs .card.expired", "Class X Marksheet 2012").await;
    assert!(expired.contains("Expired") && expired.contains("2020-05-20"), "{expired}");
    screenshots(&c, "certificates").await;

    // Pages of two: "Show more" until all five are shown.
    c.execute("localStorage.setItem('pageItems', '2')", vec![]).await.expect("page size");
    c.refresh().await.expect("reload");
    wait_text(&c, ".docs .card", "Issued by").await;
    for shown in [2, 4, 5] {
        let deadline = tokio::time::Instant::now() + WAIT;
        while c.find_all(Locator::Css(".docs .card")).await.expect("cards").len() != shown {
            assert!(tokio::time::Instant::now() < deadline, "{shown} cards");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let more = c.find(Locator::Css("main div > button.secondary")).await.expect("more");
        if shown < 5 {
            more.click().await.expect("show more");
        } else {
            assert!(!more.is_displayed().await.expect("displayed"), "nothing more to show");
        }
    }
    c.execute("localStorage.removeItem('pageItems')", vec![]).await.expect("page size");
    c.refresh().await.expect("reload");

    // The session is an HttpOnly cookie: scripts cannot see it.
    let cookies = c.execute("return document.cookie", vec![]).await.expect("cookies");
    assert_eq!(cookies, json!(""), "the session cookie is HttpOnly");
    // A change without the CSRF token is refused, even from the page itself.
    let (status, code) = page_fetch(&c, "POST", "/v1/citizen/logout", None).await;
    assert_eq!((status, code.as_str()), (403, "csrf_failed"));

    // Open the document: details and its hash, the file shown in the page.
    click(&c, ".docs .card a[href^='#/document/']").await;
    let details = wait_text(&c, "main table", "in.gov.cbse").await;
    assert!(details.contains("Asha Kumari"), "the holder, from the sealed fields: {details}");
    // Her marks, opened from the sealed fields for her alone.
    let marks = wait_text(&c, "#results", "Physics").await;
    assert!(marks.contains("Mathematics") && marks.contains("2006-08-15"), "{marks}");
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("main iframe.preview, main img.preview, main div > p.meta"))
        .await
        .expect("the document shown, or why not");
    // Checked in her browser against its proof bundle and the ledger's published key.
    let verdict = wait_text(&c, "#verdict", "Authentic").await;
    assert!(verdict.contains("The file is exactly the one the ledger holds"), "{verdict}");
    screenshots(&c, "document").await;
    // She e-signs it; the page shows what anyone needs to check the signature.
    wait_text(&c, "#esigned", "You have not e-signed it").await;
    click(&c, "#esign-button").await;
    wait_text(&c, "#esigned", "You e-signed it on").await;
    let signature = wait_text(&c, "#esignature", "").await;
    assert_eq!(signature.len(), 128, "an Ed25519 signature in hex: {signature}");
    wait_text(&c, "#status", "e-signed with your key").await;
    paper_checked_by_a_stranger(&c, &driver, dir.path()).await;

    pulls_in_the_page(&c).await;

    // Uploads: a wrong type is refused with the server's reason; a PNG goes in and shows.
    click(&c, "a[href='#/certificates']").await;
    click(&c, "#tab-uploaded").await;
    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "plain text").expect("write");
    let file_input =
        c.wait().at_most(WAIT).for_element(Locator::Css("#f-file")).await.expect("file");
    file_input.send_keys(&text_file.display().to_string()).await.expect("choose file");
    click(&c, "#upload-form button[type=submit]").await;
    let refusal = wait_text(&c, "#upload-form .error", "pdf, jpg").await;
    assert!(refusal.contains("notes.txt"), "{refusal}");
    let png = dir.path().join("photo.png");
    std::fs::write(&png, tiny_png()).expect("write png");
    let file_input = c.find(Locator::Css("#f-file")).await.expect("file input");
    file_input.send_keys(&png.display().to_string()).await.expect("choose file");
    click(&c, "#upload-form button[type=submit]").await;
    wait_text(&c, ".docs .card h2", "photo.png").await;
    wait_text(&c, "#status", "photo.png").await;
    screenshots(&c, "uploaded").await;
    // Deleting asks first.
    click(&c, ".docs .card .actions button").await;
    c.accept_alert().await.expect("confirm the deletion");
    wait_text(&c, "#status", "photo.png was deleted").await;
    wait_text(&c, "main p", "No uploaded documents yet").await;

    // My Issuer counts her documents by issuer.
    click(&c, "nav a[href='#/issuers']").await;
    let row = wait_text(&c, "main tbody tr", "in.gov.cbse").await;
    let status = c.find(Locator::Css("#status")).await.expect("status").text().await.expect("text");
    assert_eq!(status, "", "a message does not follow the citizen to another section");
    assert!(row.ends_with(" 3"), "the demo's two CBSE marksheets and the old one: {row}");

    // The bank's pending request is counted beside Consents on every page.
    wait_text(&c, "nav a[href='#/consents']", "(1)").await;

    // Consents: the bank's request from the demo, with purpose and what it asks for. She
    // allows it for her Class XII marksheet; it moves to the active ones.
    click(&c, "nav a[href='#/consents']").await;
    let card = wait_text(&c, "li.card", "State Bank of India").await;
    assert!(
        card.contains("Opening a savings account")
            && card
                .contains("Asks for: Class XII Marksheet (Central Board of Secondary Education)"),
        "{card}"
    );
    // Its terms, as an Account Aggregator consent states them, before she answers.
    assert!(
        card.contains("May read up to 3 times a day")
            && card.contains("May keep what it reads for 30 days"),
        "{card}"
    );
    screenshots(&c, "consents").await;
    fill(&c, "input[id^='days-']", "0").await;
    click(&c, "form[id^='grant-'] button[type=submit]").await;
    wait_text(&c, "form[id^='grant-'] .error", "").await;
    fill(&c, "input[id^='days-']", "30").await;
    click(&c, "form[id^='grant-'] button[type=submit]").await;
    wait_text(&c, "#status", "may now read").await;
    wait_text(&c, "li.card", "Access until").await;
    // She pauses it, and resumes it; the signed consent is hers to download.
    click(&c, "li.card .actions button.secondary").await;
    wait_text(&c, "#status", "cannot read your documents until you resume").await;
    wait_text(&c, "li.card", "Paused").await;
    screenshots(&c, "consent-paused").await;
    click(&c, "li.card .actions button.secondary").await;
    wait_text(&c, "#status", "may read again").await;
    let href = c
        .find(Locator::Css("li.card a[href$='/artefact']"))
        .await
        .expect("the artefact link")
        .attr("href")
        .await
        .expect("href")
        .expect("a link");
    let artefact: serde_json::Value =
        serde_json::from_slice(&page_bytes(&c, &href).await).expect("a JSON artefact");
    assert_eq!(artefact["consent_artefact"]["ConsentDetail"]["Frequency"]["value"], 3);
    assert_eq!(artefact["signature"].as_str().map(|s| s.split('.').count()), Some(3), "a JWS");

    // A second request arrives while she looks at her consents: it appears by itself.
    let bank_key = dir.path().join("data/demo-keys/in.co.sbi.key");
    let (ok, out, err) = crate::journey::locker(crate::journey::owned(&[
        "requester",
        "--server",
        &base,
        "--id",
        "in.co.sbi",
        "--key",
        bank_key.to_str().expect("path"),
        "request",
        "--username",
        "asha",
        "--doc",
        "in.gov.transport/DRVLC",
        "--purpose",
        "know_your_customer",
        "--text",
        "Address proof for a loan",
    ]))
    .await;
    assert!(ok, "locker requester request: {out} {err}");
    wait_text(&c, "#status", "new request").await;
    let card = wait_text(&c, "li.card", "Address proof for a loan").await;
    assert!(card.contains("Driving Licence"), "her licence is offered: {card}");
    wait_text(&c, "nav a[href='#/consents']", "(1)").await;
    click(&c, "li.card button.secondary").await;
    wait_text(&c, "#status", "denied").await;
    // The page says "denied" first, then reloads the consents and their count: wait for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let consents = c.find(Locator::Css("nav a[href='#/consents']")).await.expect("nav");
        let text = consents.text().await.expect("text");
        if text == "Consents" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing left to answer, yet: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Share her marksheet; the link opens in another browser, with no login, and is counted.
    click(&c, "nav a[href='#/certificates']").await;
    wait_text(&c, ".docs .card", "E-signed").await;
    click(&c, ".docs .card a[href='#/document/in.gov.cbse-HSCER-2024-7654321']").await;
    // A double click on the button creates one link, not two.
    c.wait().at_most(WAIT).for_element(Locator::Css("#share-form button")).await.expect("form");
    c.execute(
        "const b = document.querySelector('#share-form button[type=submit]'); b.click(); b.click();",
        vec![],
    )
    .await
    .expect("double click");
    let link = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#share-link"))
        .await
        .expect("the link")
        .text()
        .await
        .expect("text");
    assert!(link.starts_with(&format!("{base}/#/shared/")), "{link}");
    let stranger = browser(&driver, &dir.path().join("profile-stranger")).await;
    stranger.goto(&link).await.expect("open the shared link");
    let shared = wait_text(&stranger, "main table", "in.gov.cbse-HSCER-2024-7654321").await;
    assert!(shared.contains("Asha Kumari"), "{shared}");
    stranger
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("main iframe.preview"))
        .await
        .expect("the PDF shown to the link holder");
    let nav = stranger.find(Locator::Css("#nav")).await.expect("nav");
    assert!(!nav.is_displayed().await.expect("displayed"), "no locker sections for a stranger");
    // Whether it verifies, checked in the stranger's browser.
    let verdict = wait_text(&stranger, "#verdict", "Authentic").await;
    assert!(
        verdict.contains("Central Board of Secondary Education (issuer in.gov.cbse)"),
        "{verdict}"
    );
    assert!(verdict.contains("The file is exactly the one the ledger holds"), "{verdict}");
    screenshots(&stranger, "shared").await;

    // Anyone can check a bundle on the Verify page: the marksheet's, one with its proof
    // altered, one with another document, a file that is no bundle, another ledger key.
    let uri = "in.gov.cbse-HSCER-2024-7654321";
    let bundle = page_bytes(&c, &format!("/v1/citizen/certificates/{uri}/bundle")).await;
    let content = page_bytes(&c, &format!("/v1/citizen/certificates/{uri}/content")).await;
    let files = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let mut altered: serde_json::Value = serde_json::from_slice(&bundle).expect("a bundle");
    altered["document"]["leaf_index"] =
        json!(altered["document"]["leaf_index"].as_u64().expect("index") + 1);
    let (good, altered) = (
        files("good.locker-bundle.json", &bundle),
        files("altered.json", altered.to_string().as_bytes()),
    );
    let (pdf, other_pdf) =
        (files("marksheet.pdf", &content), files("other.pdf", b"%PDF-1.4\n%%EOF\n"));
    stranger.goto(&format!("{base}/#/verify")).await.expect("open Verify");
    wait_text(&stranger, "h1", "Verify a document").await;
    let verdict = verify_in_page(&stranger, &good, Some(&pdf), "Authentic").await;
    assert!(verdict.contains(uri) && verdict.contains("Class XII Marksheet 2024"), "{verdict}");
    assert!(verdict.contains("The file is exactly the one the ledger holds"), "{verdict}");
    // Then the service says what became of it since: nothing.
    wait_text(&stranger, "#current-status", "Valid").await;
    // Her old marksheet: authentic, and expired now.
    let old =
        page_bytes(&c, "/v1/citizen/certificates/in.gov.cbse-SSCER-2012-0000042/bundle").await;
    let old = files("old.locker-bundle.json", &old);
    verify_in_page(&stranger, &old, None, "Class X Marksheet 2012").await;
    wait_text(&stranger, "#current-status", "Expired").await;
    screenshots(&stranger, "verify").await;
    let verdict = verify_in_page(&stranger, &altered, None, "Not verified").await;
    assert!(verdict.contains("not in the checkpointed log"), "{verdict}");
    let verdict = verify_in_page(&stranger, &good, Some(&other_pdf), "Not verified").await;
    assert!(verdict.contains("the file given is not this document"), "{verdict}");
    verify_in_page(&stranger, &pdf, None, "not a proof bundle").await;
    click(&stranger, "#lang").await;
    wait_text(&stranger, "h1", "दस्तावेज़ का सत्यापन").await;
    verify_in_page(&stranger, &good, None, "प्रामाणिक").await;
    screenshots(&stranger, "verify-hindi").await;
    click(&stranger, "#lang").await;
    stranger.refresh().await.expect("a fresh form");
    // The published key fills the field first; the stranger puts another one in its place.
    wait_text(&stranger, "h1", "Verify a document").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while stranger
        .execute("return document.querySelector('#f-ledger_key').value.length", vec![])
        .await
        .expect("key field")
        != json!(64)
    {
        assert!(tokio::time::Instant::now() < deadline, "the published key fills the field");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click(&stranger, "#verify-form summary").await;
    fill(&stranger, "#f-ledger_key", &"ab".repeat(32)).await;
    let input = stranger.find(Locator::Css("#f-bundle")).await.expect("bundle field");
    input.send_keys(&good.display().to_string()).await.expect("choose file");
    click(&stranger, "#verify-form button[type=submit]").await;
    wait_text(&stranger, "#verify-form .error", "not an Ed25519 public key").await;
    stranger.close().await.expect("close the stranger's browser");

    click(&c, "nav a[href='#/shares']").await;
    // One visit is one access: the page's file and bundle requests carry the visit it opened.
    wait_text(&c, "li.card", "Accesses: 1").await;
    let links = c.find_all(Locator::Css("main li.card")).await.expect("links");
    assert_eq!(links.len(), 1, "one link for the double click");
    click(&c, "li.card .actions button:last-child").await;
    wait_text(&c, "#status", "revoked").await;
    wait_text(&c, "li.card", "Revoked").await;
    click(&c, "nav a[href='#/activity']").await;
    wait_text(&c, "main tbody tr", "Someone with a share link").await;
    screenshots(&c, "activity").await;

    // My Requester counts the bank's requests; the directories are searchable.
    click(&c, "nav a[href='#/requesters']").await;
    wait_text(&c, "main tbody tr", "State Bank of India").await;
    click(&c, "nav a[href='#/directory']").await;
    wait_text(&c, "li.card", "Income Tax Department").await;
    fill(&c, "#f-search", "licence").await;
    let shown = c
        .execute(
            "return [...document.querySelectorAll('#directory-lists li')].filter(e => !e.hidden).map(e => e.textContent)",
            vec![],
        )
        .await
        .expect("shown directory entries");
    let shown = shown.as_array().expect("list").clone();
    assert_eq!(shown.len(), 1, "only the transport department issues licences: {shown:?}");
    screenshots(&c, "directory").await;

    // Hindi, and back.
    click(&c, "#lang").await;
    wait_text(&c, "nav a", "मेरे प्रमाणपत्र").await;
    wait_text(&c, "h1", "निर्देशिकाएँ").await;
    screenshots(&c, "directory-hindi").await;
    click(&c, "#lang").await;
    wait_text(&c, "h1", "Directories").await;

    // Log out: the cookie's session is gone on the server too.
    click(&c, "#logout").await;
    wait_text(&c, "#status", "logged out").await;
    let (status, _) = page_fetch(&c, "GET", "/v1/citizen/session", None).await;
    assert_eq!(status, 401);

    // Someone else, in a second browser, signs up with mobile and OTP.
    let other = browser(&driver, &dir.path().join("profile-b")).await;
    other.goto(&format!("{base}/#/signup")).await.expect("open sign-up");
    fill(&other, "#f-mobile", "12345").await;
    click(&other, "#otp-form button[type=submit]").await;
    wait_text(&other, "#otp-form .error", "mobile").await;
    fill(&other, "#f-mobile", "9876501234").await;
    click(&other, "#otp-form button[type=submit]").await;
    let message = tokio::time::timeout(WAIT, sms.recv()).await.expect("an SMS").expect("sent");
    let code = message["message"].as_str().expect("text").split(' ').next().expect("code");
    fill(&other, "#f-otp", code).await;
    fill(&other, "#f-username", "ravi_web").await;
    fill(&other, "#f-password", "short").await;
    click(&other, "#signup-form button[type=submit]").await;
    wait_text(&other, "#signup-form .error", "password").await;
    fill(&other, "#f-password", "ravi-web-password-1").await;
    click(&other, "#signup-form button[type=submit]").await;
    wait_text(&other, "main p", "No issued documents yet").await;
    screenshots(&other, "signed-up").await;

    // They link their Aadhaar: the reference Aadhaar authority (its own process) texts a code
    // to the mobile it holds for the number, and My Profile then shows its e-KYC data.
    other.goto(&format!("{base}/#/profile")).await.expect("open profile");
    fill(&other, "#f-aadhaar", "4991 1866 5247").await;
    click(&other, "#aadhaar-form button[type=submit]").await;
    wait_text(&other, "#aadhaar-form .error", "Verhoeff").await;
    fill(&other, "#f-aadhaar", "4991 1866 5246").await;
    click(&other, "#aadhaar-form button[type=submit]").await;
    let message = tokio::time::timeout(WAIT, sms.recv()).await.expect("an SMS").expect("sent");
    assert_eq!(message["mobile"], "9811122233", "to the mobile the authority holds");
    let code = message["message"].as_str().expect("text").split(' ').next().expect("code");
    wait_text(&other, "#aadhaar-otp-form p", "xxxxxx2233").await;
    fill(&other, "#f-otp", if code == "000000" { "111111" } else { "000000" }).await;
    click(&other, "#aadhaar-otp-form button[type=submit]").await;
    wait_text(&other, "#aadhaar-otp-form .error", "wrong").await;
    fill(&other, "#f-otp", code).await;
    click(&other, "#aadhaar-otp-form button[type=submit]").await;
    wait_text(&other, "#kyc", "Ravi Kumar").await;
    wait_text(&other, "#kyc", "Lucknow").await;
    screenshots(&other, "profile-kyc").await;
    your_data(&other).await;

    other.close().await.expect("close the second browser");
    c.close().await.expect("close the browser");
    drop(server);
}

/// On a phone the sections are a bar at the bottom; "More" opens the rest. Then "your data":
/// the export downloads, and closing takes a warning, the password (a wrong one is said
/// beside the field) and a confirmation, after which the session is gone.
async fn your_data(c: &Client) {
    c.set_window_size(360, 780).await.expect("a phone");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let nav = c.find(Locator::Css("#nav")).await.expect("nav");
    assert!(!nav.is_displayed().await.expect("shown"), "the full list waits behind More");
    assert!(c.find(Locator::Css("#tabs a")).await.expect("tabs").is_displayed().await.expect("x"));
    click(c, "#more").await;
    assert!(nav.is_displayed().await.expect("shown"), "More opens the sections");
    screenshots(c, "menu-open").await;
    c.set_window_size(360, 780).await.expect("a phone");
    tokio::time::sleep(Duration::from_millis(300)).await;
    click(c, "#nav a[href='#/profile']").await;
    wait_text(c, "#your-data", "Download everything").await;
    assert!(!nav.is_displayed().await.expect("shown"), "the list closes on the way");
    let zip = page_bytes(c, "/v1/citizen/export").await;
    assert_eq!(&zip[..2], b"PK", "a zip");
    click(c, "#close-start").await;
    fill(c, "#f-close-password", "not-my-password").await;
    click(c, "#close-form button[type=submit]").await;
    click(c, "#close-now").await;
    wait_text(c, "#close-form .error", "wrong username or password").await;
    fill(c, "#f-close-password", "ravi-web-password-1").await;
    click(c, "#close-form button[type=submit]").await;
    wait_text(c, "#close-confirm", "cannot be undone").await;
    screenshots(c, "close-confirm").await;
    click(c, "#close-now").await;
    wait_text(c, "h1", "Your locker is closed").await;
    let (status, _) = page_fetch(c, "GET", "/v1/citizen/session", None).await;
    assert_eq!(status, 401, "the session ended with the locker");
    // In Hindi, the page that follows says where to go.
    click(c, "#lang").await;
    wait_text(c, "h1", "लॉग इन").await;
}

/// A 1x1 PNG.
fn tiny_png() -> Vec<u8> {
    let hex = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d\
               4944415478da63f8cfc0f01f0005000201a5e1b2d80000000049454e44ae426082";
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}
