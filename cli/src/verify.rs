//! `locker verify-bundle` and `locker monitor`: what anyone can check with only the ledger's
//! public key.

use std::path::PathBuf;

use crate::Exit;
use crate::args::{MonitorArgs, VerifyBundleArgs};

pub(crate) async fn bundle(args: VerifyBundleArgs) -> anyhow::Result<()> {
    let VerifyBundleArgs { file, ledger_key, data, document, status_from } = args;
    let key = client::trust::trusted_ledger_key(&data, ledger_key.as_deref())
        .map_err(anyhow::Error::msg)?;
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    };
    let bundle = read(&file)?;
    let document = document.as_ref().map(read).transpose()?;
    match verifier::verify_bundle_file(&bundle, &key, document.as_deref()) {
        Ok(verified) => {
            print!("{}", verified.report());
            if let Some(server) = status_from {
                println!(
                    "  status now: {}",
                    client::status::ask_status(&server, bundle)
                        .await
                        .map_err(anyhow::Error::msg)?
                );
            }
            Ok(())
        }
        Err(reason) => {
            println!("NOT VERIFIED: {reason}");
            Err(Exit(1).into())
        }
    }
}

pub(crate) async fn monitor(args: MonitorArgs) -> anyhow::Result<()> {
    let MonitorArgs { server, ledger_key, state } = args;
    let key = client::trust::trusted_ledger_key(std::path::Path::new("."), Some(&ledger_key))
        .map_err(anyhow::Error::msg)?;
    match client::monitor::round(&server, &key, &state).await {
        Ok(partitions) => {
            for (name, seen) in partitions {
                match seen {
                    client::monitor::Seen::First { size } => {
                        println!("{name}: {size} records (first seen)");
                    }
                    client::monitor::Seen::Same { size } => {
                        println!("{name}: {size} records (unchanged)");
                    }
                    client::monitor::Seen::Grew { from, to } => {
                        println!("{name}: grew from {from} to {to} records, consistently");
                    }
                }
            }
            Ok(())
        }
        Err(reason) => {
            println!("FAILED: {reason}");
            Err(Exit(1).into())
        }
    }
}
