//! Command line parser: one argument per line of the input, any bytes (non-UTF-8 included).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    superd_fuzz::cli(&superd_fuzz::argv_of(data));
});
