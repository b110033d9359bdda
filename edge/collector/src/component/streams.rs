//! Bounded, blocking reads and writes on `wasi:io` streams.

use wasi::io::streams::{InputStream, OutputStream, StreamError};

/// Largest read asked of the host at once.
const READ_CHUNK: usize = 16 * 1024;

/// Largest write `blocking-write-and-flush` takes.
const WRITE_CHUNK: usize = 4096;

/// Reads until the end of the stream or `max` bytes, whichever comes first.
pub(super) fn read_at_most(stream: &InputStream, max: usize) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    while data.len() < max {
        let want = (max - data.len()).min(READ_CHUNK);
        match stream.blocking_read(want as u64) {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => return Err(error.to_debug_string()),
        }
    }
    Ok(data)
}

/// Writes all of `data`.
pub(super) fn write_all(stream: &OutputStream, data: &[u8]) -> Result<(), StreamError> {
    for chunk in data.chunks(WRITE_CHUNK) {
        stream.blocking_write_and_flush(chunk)?;
    }
    Ok(())
}
