//! hosts.allow/hosts.deny: parse the text before the first NUL byte, then `check` it as allow
//! file, deny file and both against sample clients and one built by `arbitrary` from the bytes
//! after the NUL (so the seed corpus stays plain hosts.allow text).
#![no_main]

use std::net::IpAddr;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use superd::access::hosts::{Client, Server};

#[derive(Arbitrary, Debug)]
struct Peer {
    addr: IpAddr,
    name: Option<String>,
    paranoid: bool,
    user: Option<String>,
    daemon: String,
    server_addr: Option<IpAddr>,
    server_name: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    let (text, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(peer) = Peer::arbitrary_take_rest(Unstructured::new(rest)) else {
        return;
    };
    let client = Client {
        addr: peer.addr,
        name: peer.name,
        name_paranoid_mismatch: peer.paranoid,
        user: peer.user,
    };
    let server = Server {
        daemon: peer.daemon,
        addr: peer.server_addr,
        name: peer.server_name,
    };
    superd_fuzz::hosts_access(&String::from_utf8_lossy(text), &client, &server);
});
