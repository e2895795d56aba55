//! inetd.conf parser in the three dialects, and `superd convert` of what it read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    superd_fuzz::inetd_conf(&String::from_utf8_lossy(data));
});
