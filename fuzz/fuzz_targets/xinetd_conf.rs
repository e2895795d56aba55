//! xinetd.conf parser: any bytes (lossily UTF-8, as `config::load` reads files).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    superd_fuzz::xinetd_conf(&String::from_utf8_lossy(data));
});
