//! `type = RPC`: registration with Debian's rpcbind, checked with `rpcinfo -p` (issue 4 §3).
use std::time::Duration;

use crate::harness::*;

const PROGRAM: u32 = 536_875_000; // in the 0x20000000 range kept for local use

fn rpcinfo() -> Option<String> {
    let (code, out, _) = run_bounded(
        std::process::Command::new("rpcinfo")
            .arg("-p")
            .arg("127.0.0.1"),
        Duration::from_secs(10),
    );
    (code == 0).then_some(out)
}

fn registered(out: &str, program: u32) -> Vec<(u32, String, u16)> {
    out.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 4 && w[0] == program.to_string()).then(|| {
                (
                    w[1].parse().unwrap(),
                    w[2].to_string(),
                    w[3].parse().unwrap(),
                )
            })
        })
        .collect()
}

#[test]
fn rpc_service_is_registered_with_rpcbind_and_unregistered_at_exit() {
    if rpcinfo().is_none() {
        if in_ci() {
            panic!("rpcbind is not running: .ci/run should have started it (CI is set)");
        }
        eprintln!("SKIPPED: rpcbind is not running");
        return;
    }
    let program = PROGRAM + std::process::id() % 500;
    let conf = format!(
        "{LOG_DEFAULTS}service myrpc\n{{\n\ttype = RPC UNLISTED\n\trpc_number = {program}\n\trpc_version = 1-2\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = /bin/echo\n\tserver_args = rpc served\n\tbind = 127.0.0.1\n}}\n"
    );
    let mut d = Daemon::start(&conf);
    let regs = registered(&rpcinfo().unwrap(), program);
    assert_eq!(regs.len(), 2, "{regs:?}");
    assert!(regs.iter().all(|(_, proto, _)| proto == "tcp"));
    let port = regs[0].2;
    assert!(regs.iter().all(|r| r.2 == port));
    assert_eq!(tcp_exchange(port, b""), b"rpc served\n");
    assert_eq!(d.stop(), Some(0));
    assert!(
        registered(&rpcinfo().unwrap(), program).is_empty(),
        "still registered after exit"
    );
}
