//! Listening: serves the router until a stop signal, then drains the requests in flight.

use std::net::SocketAddr;
use std::time::Duration;

/// Serves until `shutdown`, then stops accepting and lets the requests in flight finish, at
/// most `SHUTDOWN_REQUESTS_MS` (a requester's event stream never finishes by itself).
pub(crate) async fn serve_until(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (begin, begun) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = begin.send(true);
    });
    let graceful = {
        let mut begun = begun.clone();
        async move {
            let _ = begun.wait_for(|now| *now).await;
        }
    };
    let deadline = {
        let mut begun = begun.clone();
        async move {
            let _ = begun.wait_for(|now| *now).await;
            tokio::time::sleep(Duration::from_millis(crate::limits::SHUTDOWN_REQUESTS_MS)).await;
        }
    };
    let server = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(graceful);
    tokio::select! {
        served = std::future::IntoFuture::into_future(server) => served,
        () = deadline => {
            tracing::warn!("requests still open at shutdown (event streams) were closed");
            Ok(())
        }
    }
}
