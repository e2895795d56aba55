//! /etc/services parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    superd_fuzz::services(&String::from_utf8_lossy(data));
});
