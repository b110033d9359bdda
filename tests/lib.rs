//! End-to-end tests of Hitkeep live in `e2e/`; this library is empty on purpose.
