//! Fuzzes the Events API body parser: it must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = hitkeep_collector_core::parse_payload(body);
});
