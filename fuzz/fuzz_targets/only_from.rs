//! `only_from`/`no_access` lists (access::address::AddrList::parse). Input: the entries,
//! whitespace-separated, up to the first NUL; networks-file text up to the second NUL; the rest
//! feeds `arbitrary` for the peer and the addresses a second resolver stub returns.
#![no_main]

use std::net::IpAddr;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Peer {
    addr: IpAddr,
    name: Option<String>,
    resolved: Vec<IpAddr>,
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let entries = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let networks = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let rest = parts.next().unwrap_or_default();
    let Ok(peer) = Peer::arbitrary_take_rest(Unstructured::new(rest)) else {
        return;
    };
    let entries: Vec<String> = entries.split_whitespace().map(String::from).collect();
    superd_fuzz::only_from(
        &entries,
        &networks,
        &peer.resolved,
        peer.addr,
        peer.name.as_deref(),
    );
});
