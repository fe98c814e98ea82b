//! `locker admin`: operators sign directory events with the platform key.

use crate::args::*;
use crate::{from_json, now, parsed};

fn organisation(org: &OrgArg) -> anyhow::Result<(schemas::Organisation, schemas::Principal)> {
    use schemas::{Organisation, Principal};
    match (&org.issuer, &org.requester) {
        (Some(id), None) => {
            let id = parsed("issuer", schemas::IssuerId::parse(id))?;
            Ok((Organisation::Issuer(id.clone()), Principal::Issuer(id)))
        }
        (None, Some(id)) => {
            let id = parsed("requester", schemas::RequesterId::parse(id))?;
            Ok((Organisation::Requester(id.clone()), Principal::Requester(id)))
        }
        _ => anyhow::bail!("name exactly one of --issuer and --requester"),
    }
}

pub(crate) async fn run(args: AdminArgs) -> anyhow::Result<()> {
    use schemas::*;
    let platform = ledger::keyfile::read(&args.platform_key)
        .map_err(|e| anyhow::anyhow!("--platform-key {}: {e}", args.platform_key.display()))?;
    let key = |text: &str| client::admin::public_key(text).map_err(anyhow::Error::msg);
    if let AdminCommand::Snapshot = args.command {
        let taken = client::admin::snapshot(&args.server, &platform, now()).await?;
        println!(
            "snapshot {}: {} files, {} bytes ({} stored), views at {}",
            taken.id,
            taken.files,
            taken.size_bytes,
            taken.stored_bytes,
            taken.marks.join(" ")
        );
        return Ok(());
    }
    let payload = match args.command {
        AdminCommand::RegisterIssuer { id, name, doc_types, key: public, endpoint } => {
            let mut entries = Vec::new();
            for entry in &doc_types {
                let (code, name) = entry
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--doc-type {entry:?}: CODE=Name"))?;
                entries.push(DocTypeEntry {
                    code: parsed("doc-type", DocTypeCode::parse(code))?,
                    name: parsed("doc-type", Label::parse(name))?,
                });
            }
            Payload::IssuerRegistered(IssuerRegistered {
                issuer: parsed("id", IssuerId::parse(&id))?,
                name: parsed("name", Label::parse(&name))?,
                doc_types: entries,
                keys: vec![key(&public)?],
                endpoint: endpoint.map(|e| parsed("endpoint", Endpoint::parse(&e))).transpose()?,
            })
        }
        AdminCommand::RegisterRequester { id, name, kind, key: public } => {
            Payload::RequesterRegistered(RequesterRegistered {
                requester: parsed("id", RequesterId::parse(&id))?,
                name: parsed("name", Label::parse(&name))?,
                kind: from_json("kind", &kind)?,
                keys: vec![key(&public)?],
            })
        }
        AdminCommand::RotateKey { org, new_key, retire } => Payload::KeyRotated(KeyRotated {
            owner: organisation(&org)?.1,
            new_key: key(&new_key)?,
            retired_key_id: retire.map(|k| parsed("retire", KeyId::from_hex(&k))).transpose()?,
        }),
        AdminCommand::RevokeKey { org, key_id, reason } => Payload::KeyRevoked(KeyRevoked {
            owner: organisation(&org)?.1,
            key_id: parsed("key-id", KeyId::from_hex(&key_id))?,
            reason: parsed("reason", Reason::parse(&reason))?,
        }),
        AdminCommand::Suspend { org, reason } => {
            Payload::OrganisationSuspended(OrganisationSuspended {
                organisation: organisation(&org)?.0,
                reason: parsed("reason", Reason::parse(&reason))?,
            })
        }
        AdminCommand::Reinstate { org } => {
            Payload::OrganisationReinstated(OrganisationReinstated {
                organisation: organisation(&org)?.0,
            })
        }
        AdminCommand::Snapshot => unreachable!("answered above"),
    };
    let (status, answer) = client::admin::submit(&args.server, &platform, payload, now())
        .await
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        (200..300).contains(&status),
        "the service refused it (HTTP {status}): {answer}"
    );
    println!("{answer}");
    Ok(())
}
