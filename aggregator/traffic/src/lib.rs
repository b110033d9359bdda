//! hitkeep-traffic.
