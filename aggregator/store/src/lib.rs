//! DuckDB storage.
