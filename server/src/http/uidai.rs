//! `locker uidai-reference`: the reference Aadhaar authority (`kyc::authority`) as its own
//! process; and, for `locker serve --demo` without `--kyc-provider`, starting one beside the
//! service with the demo's residents, so Aadhaar linking works in the demo exactly as against
//! a real authority (its codes go to its log, as the demo's sign-up codes go to the server's).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rand_core::{OsRng, RngCore};

/// What `locker uidai-reference` is started with.
#[derive(Debug)]
pub struct AuthorityArgs {
    pub residents: PathBuf,
    /// Created (mode 0600) when missing.
    pub key: PathBuf,
    pub listen: SocketAddr,
    /// `CODE:LICENCE` of each AUA served.
    pub auas: Vec<String>,
    pub sms_gateway: Option<String>,
    /// Exit when standard input closes (the parent that started it is gone).
    pub exit_with_stdin: bool,
}

/// Runs the authority until the process ends.
pub async fn run_authority(args: AuthorityArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.residents)
        .map_err(|e| format!("cannot read {}: {e}", args.residents.display()))?;
    let residents = kyc::authority::read_residents(&text)
        .map_err(|e| format!("{}: {e}", args.residents.display()))?;
    let key = if args.key.exists() {
        ledger::keyfile::read(&args.key).map_err(|e| e.to_string())?
    } else {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
        ledger::keyfile::write_new(&args.key, &key).map_err(|e| e.to_string())?;
        key
    };
    let auas = args
        .auas
        .iter()
        .map(|aua| {
            aua.split_once(':')
                .map(|(code, licence)| (code.to_owned(), licence.to_owned()))
                .ok_or_else(|| format!("--aua {aua:?}: CODE:LICENCE"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if auas.is_empty() {
        return Err("give at least one --aua CODE:LICENCE (or LOCKER_UIDAI_AUA)".to_owned());
    }
    let sms = match &args.sms_gateway {
        Some(url) => kyc::authority::Sms::Gateway(
            client::http::JsonClient::parse_url(url).map_err(|e| e.to_string())?,
        ),
        None => kyc::authority::Sms::Log,
    };
    let public_key: String = schemas::to_hex(&key.verifying_key().to_bytes());
    let router = kyc::authority::router(kyc::authority::Config {
        residents,
        key,
        auas,
        sms,
        clock: Arc::new(ledger::clock::SystemClock),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("uidai-reference: listening on http://{address} key {public_key}");
    // With --exit-with-stdin, the end of standard input (the parent's death) stops the server;
    // the thread only signals, and `run_authority` returns to `main`, which picks the exit code.
    // Requests in flight get `SHUTDOWN_REQUESTS_MS` to finish, as the service's do; a client
    // stalled mid-request cannot keep the authority alive after that.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    if args.exit_with_stdin {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            let _ = stop.send(true);
        });
    }
    let server =
        axum::serve(listener, router).with_graceful_shutdown(stop_signalled(stopped.clone()));
    let deadline = async move {
        stop_signalled(stopped).await;
        let drain_ms = crate::limits::SHUTDOWN_REQUESTS_MS;
        tokio::time::sleep(std::time::Duration::from_millis(drain_ms)).await;
    };
    tokio::select! {
        served = std::future::IntoFuture::into_future(server) => served.map_err(|e| e.to_string()),
        () = deadline => Ok(()),
    }
}

/// Resolves when the stop is signalled; never, when nothing can signal it (no
/// `--exit-with-stdin`: the sender is gone).
async fn stop_signalled(mut stopped: tokio::sync::watch::Receiver<bool>) {
    if stopped.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The demo's residents: the demo citizen (the same mobile as her locker), a second resident,
/// one with no mobile on record and one suspended. Aadhaar numbers are UIDAI's published test
/// numbers and others with a valid check digit.
pub const DEMO_RESIDENTS: &str = r#"# Reference Aadhaar authority: one resident a line.
{"aadhaar": "9999 9999 0019", "mobile": "9876543210", "name": "Asha Kumari", "dob": "15-08-2006", "gender": "F", "address": {"co": "D/O Ramesh Kumar", "house": "12", "street": "MG Road", "loc": "Shivajinagar", "vtc": "Pune", "dist": "Pune", "state": "Maharashtra", "country": "India", "pc": "411005"}}
{"aadhaar": "4991 1866 5246", "mobile": "9811122233", "name": "Ravi Kumar", "dob": "02-01-2005", "gender": "M", "address": {"vtc": "Lucknow", "state": "Uttar Pradesh", "country": "India", "pc": "226001"}}
{"aadhaar": "2345 6789 0124", "name": "Meena Devi", "dob": "20-11-1990", "gender": "F", "address": {"vtc": "Patna", "state": "Bihar", "country": "India"}}
{"aadhaar": "3456 7890 1238", "mobile": "9811100000", "name": "Suspended Resident", "dob": "01-01-1980", "gender": "T", "status": "suspended"}
"#;

/// A reference authority started beside the service; ended when dropped (and by itself when
/// the service's process is gone: its standard input closes).
#[derive(Debug)]
pub struct Started {
    child: Child,
    pub url: String,
    pub public_key: String,
    pub aua: String,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `locker uidai-reference` with the demo's residents in `data/uidai/`, texting
/// through `sms_gateway` (the service's own) or to its log.
pub fn start_demo_authority(data: &Path, sms_gateway: Option<&str>) -> Result<Started, String> {
    let dir = data.join("uidai");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let residents = dir.join("residents.jsonl");
    if !residents.exists() {
        std::fs::write(&residents, DEMO_RESIDENTS)
            .map_err(|e| format!("{}: {e}", residents.display()))?;
    }
    // A licence for this run only, handed over in the environment (not on the command line,
    // which other users of the machine can read).
    let mut licence = [0u8; 16];
    OsRng.fill_bytes(&mut licence);
    let aua = format!("locker-demo:{}", schemas::to_hex(&licence));
    let exe = std::env::current_exe().map_err(|e| format!("the locker binary: {e}"))?;
    if exe.file_name().and_then(|n| n.to_str()) != Some("locker") {
        return Err(format!("{} is not the locker binary", exe.display()));
    }
    let mut command = Command::new(exe);
    command
        .args(["uidai-reference", "--listen", "127.0.0.1:0", "--exit-with-stdin", "--residents"])
        .arg(&residents)
        .arg("--key")
        .arg(dir.join("authority.key"));
    if let Some(url) = sms_gateway {
        command.args(["--sms-gateway", url]);
    }
    let mut child = command
        .env("LOCKER_UIDAI_AUA", &aua)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the reference Aadhaar authority: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let line = lines
        .next()
        .ok_or("the reference Aadhaar authority stopped")?
        .map_err(|e| e.to_string())?;
    let rest = line
        .strip_prefix("uidai-reference: listening on ")
        .ok_or_else(|| format!("the reference Aadhaar authority said {line:?}"))?;
    let (url, public_key) =
        rest.split_once(" key ").ok_or_else(|| format!("unexpected start line {line:?}"))?;
    Ok(Started { child, url: url.to_owned(), public_key: public_key.to_owned(), aua })
}
