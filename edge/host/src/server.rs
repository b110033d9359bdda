//! The HTTP/1.1 listener of the standalone edge: hyper, keep-alive, header limits and a header
//! read timeout against slow clients, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::host::EdgeHandle;

/// Largest request head (request line and headers) a client may send.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long open connections get to finish after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

impl EdgeHandle {
    /// Serves HTTP on `listener` until `shutdown` completes, then stops accepting and lets
    /// open connections finish their requests (up to 5 s). It does not stop the host: call
    /// [`EdgeHandle::shutdown`] afterwards.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let limits = self.inner.http;
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(limits.header_read_timeout)
            // hyper answers 431 beyond these.
            .max_headers(limits.max_headers + 1)
            .max_buf_size(MAX_HEAD_BYTES);
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let handle = self.clone();
            let service = service_fn(move |request| {
                let handle = handle.clone();
                async move { Ok::<_, Infallible>(handle.handle(request, peer).await) }
            });
            let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
        }
        drop(listener);
        if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
            tracing::warn!("connections still open after the drain timeout");
        }
        Ok(())
    }
}
