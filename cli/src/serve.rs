//! `locker serve` and `locker uidai-reference`: the service, and the reference Aadhaar
//! authority it talks to in demos and tests.

use crate::args::{ServeArgs, UidaiArgs};

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
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
