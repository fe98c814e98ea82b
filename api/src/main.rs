//! `locker`: a thin binary over the api crate.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "locker", version, about = "A digital document locker on a signed event ledger")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service.
    Serve {
        /// Data folder: log, views, key vault, platform key.
        #[arg(long, env = "LOCKER_DATA", default_value = "locker-data")]
        data: PathBuf,
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, env = "LOCKER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Kafka brokers (host:port,...); without it the embedded log in the data folder is used.
        #[arg(long, env = "LOCKER_KAFKA")]
        kafka: Option<String>,
        /// Seed a demo directory and a demo citizen (idempotent).
        #[arg(long)]
        demo: bool,
        /// SMS gateway for one-time passwords (http://...); without it they go to the log.
        #[arg(long, env = "LOCKER_OTP_GATEWAY")]
        otp_gateway: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal; a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve { data, listen, kafka, demo, otp_gateway } => {
            let config = api::server::ServeConfig { data, listen, kafka, demo, otp_gateway };
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            api::server::serve(config, shutdown).await
        }
    }
}
