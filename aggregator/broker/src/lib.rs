//! hitkeep-broker.
