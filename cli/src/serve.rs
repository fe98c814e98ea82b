//! `locker serve` and `locker uidai-reference`: the service, and the reference Aadhaar
//! authority it talks to in demos and tests.

use crate::args::{ServeArgs, UidaiArgs};

/// The rayon pool does a bulk load's heavy work (signatures, decoding, sealing) in long
/// batches. Its threads run at a lower priority than the async runtime's, which serve each
/// request: on two cores a citizen's read is then not queued behind a results day, and with
/// nothing else to run the pool still has every core (a nice value only orders who runs
/// first; no CPU is left idle).
fn lower_the_pools_priority() -> anyhow::Result<()> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|index| format!("pool-{index}"))
        .start_handler(|index| {
            let lower = thread_priority::ThreadPriority::Crossplatform(
                thread_priority::ThreadPriorityValue::try_from(POOL_PRIORITY).unwrap_or_default(),
            );
            if let Err(e) = thread_priority::set_current_thread_priority(lower) {
                tracing::warn!(index, error = %e, "a pool thread runs at normal priority");
            }
        })
        .build_global()?;
    Ok(())
}

/// The pool's priority on thread-priority's scale of 0 to 99, which on Linux maps to nice 19
/// down to -20: 22 is nice 10 (a tenth of a normal thread's share when both want the CPU).
const POOL_PRIORITY: u8 = 22;

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    lower_the_pools_priority()?;
    let ServeArgs {
        data,
        listen,
        kafka,
        kafka_replicas,
        cluster_address,
        platform_key,
        demo,
        otp_gateway,
        topic_prefix,
        kyc_provider,
        kyc_authority_key,
        kyc_aua,
        blob_store,
        pulls_per_hour,
        allow_private_pull_endpoints,
        public_url,
    } = args;
    let kyc = match (kyc_provider, kyc_authority_key, kyc_aua) {
        (Some(provider), Some(authority_key), Some(aua)) => {
            Some(server::server::KycSettings { provider, authority_key, aua })
        }
        _ => None,
    };
    let blob_store = match blob_store {
        Some(setting) => {
            Some(server::store::blobs::BlobSettings::parse(&setting, |bucket, prefix| {
                server::store::blobs::S3Settings::from_env(bucket, prefix, |name| {
                    std::env::var(name).ok()
                })
            })?)
        }
        None => None,
    };
    if let Some(url) = &public_url {
        crate::parsed("public-url", schemas::Endpoint::parse(url))?;
    }
    let config = server::server::ServeConfig {
        data,
        listen,
        kafka,
        kafka_replicas,
        cluster_address,
        platform_key,
        demo,
        otp_gateway,
        topic_prefix,
        kyc,
        blob_store,
        pulls_per_hour,
        allow_private_pull_endpoints,
        public_url,
    };
    // Ctrl-C at a terminal, SIGTERM from a service manager (systemd, Kubernetes).
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    };
    Ok(server::server::serve(config, shutdown).await?)
}

pub(crate) async fn uidai_reference(args: UidaiArgs) -> anyhow::Result<()> {
    let UidaiArgs { residents, key, listen, aua, sms_gateway, exit_with_stdin } = args;
    let args = server::http::uidai::AuthorityArgs {
        residents,
        key,
        listen,
        auas: aua,
        sms_gateway,
        exit_with_stdin,
    };
    server::http::uidai::run_authority(args).await.map_err(anyhow::Error::msg)
}
