//! The writer task of one connection: drains its outbound queue into the socket in large
//! writes, enforces the write deadline, and closes the write side when the connection ends.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::outbound::{Batch, Take};
use crate::router::Client;
use crate::server::until_set;
use crate::stats::Stats;

pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    client: Arc<Client>,
    stats: &Stats,
    write_deadline: Duration,
) {
    let mut aborted = client.abort.subscribe();
    let mut batch = Batch::new();
    loop {
        match client.out.take(&mut batch) {
            Take::Data => {}
            Take::Idle => {
                tokio::select! {
                    _ = client.out.wait_for_data() => {}
                    () = until_set(&mut aborted) => return,
                }
                continue;
            }
            Take::Finished => {
                let _ = tokio::time::timeout(write_deadline, writer.shutdown()).await;
                return;
            }
            Take::Aborted => return,
        }
        let written = tokio::select! {
            biased;
            () = until_set(&mut aborted) => return,
            written = tokio::time::timeout(write_deadline, write_batch(&mut writer, &batch)) => written,
        };
        match written {
            Ok(Ok(())) => client.out.written(batch.len),
            Ok(Err(error)) => {
                tracing::debug!(client_id = client.id, %error, "write failed");
                client.abort();
                return;
            }
            Err(_elapsed) => {
                crate::connection::disconnect_slow_consumer(
                    &client,
                    stats,
                    client.out.pending(),
                    "write_deadline",
                );
                return;
            }
        }
        batch.clear();
    }
}

async fn write_batch<W: AsyncWrite + Unpin>(writer: &mut W, batch: &Batch) -> io::Result<()> {
    if batch.segments.is_empty() {
        writer.write_all(&batch.contiguous).await?;
    } else {
        write_all_vectored(writer, &batch.segments).await?;
    }
    // A no-op for TCP; TLS streams write buffered records here.
    writer.flush().await
}

async fn write_all_vectored<W: AsyncWrite + Unpin>(writer: &mut W, segments: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = segments.iter().map(|segment| IoSlice::new(segment)).collect();
    let mut remaining = &mut slices[..];
    IoSlice::advance_slices(&mut remaining, 0);
    while !remaining.is_empty() {
        let written = writer.write_vectored(remaining).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut remaining, written);
    }
    Ok(())
}
