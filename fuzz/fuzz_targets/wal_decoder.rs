//! Needs nightly: `cargo +nightly fuzz run wal_decoder -- -max_total_time=60`.
//! On stable the same entry point is exercised by tests/wal_mutation.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (first, second) = data.split_at(data.len() / 2);
    let _ = pitr_console::wal::scan_bytes(0, first, Some(second));
});
