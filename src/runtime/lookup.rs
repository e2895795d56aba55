//! Name lookups off the event loop: client address → host name (and, for PARANOID-style rules,
//! the forward check that the name leads back to the address).
//!
//! The C resolver blocks, for seconds when DNS is slow, so lookups run on a small pool of
//! worker threads started on first use. The event loop sends a [`Request`] and parks the
//! connection; a worker answers through a channel and wakes the loop with a `mio::Waker`. The
//! loop owns the deadline: a connection whose answer is late is decided as if the client had
//! no name (a failed lookup never matches a name rule), and the late answer is dropped. Other
//! services keep accepting meanwhile. Workers block every signal, so handlers run on the main
//! thread only.

use std::collections::VecDeque;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};

/// At most this many lookups run at once; more wait in the queue.
const WORKERS: usize = 2;
/// Requests waiting beyond this are answered "no name" at once, so a flood of clients cannot
/// grow the queue without bound.
const MAX_QUEUED: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The caller's handle for the parked connection.
    pub id: u64,
    pub addr: IpAddr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub id: u64,
    /// The name the resolver gives for the address.
    pub name: Option<String>,
    /// Whether that name resolves back to the address (false when there is no name).
    pub verified: bool,
}

struct Queue {
    items: Mutex<VecDeque<Request>>,
    ready: Condvar,
}

pub struct Lookups {
    queue: Arc<Queue>,
    answers_tx: Sender<Answer>,
    answers: Receiver<Answer>,
    waker: Arc<mio::Waker>,
    started: usize,
}

impl Lookups {
    pub fn new(waker: mio::Waker) -> Lookups {
        let (answers_tx, answers) = channel();
        Lookups {
            queue: Arc::new(Queue {
                items: Mutex::new(VecDeque::new()),
                ready: Condvar::new(),
            }),
            answers_tx,
            answers,
            waker: Arc::new(waker),
            started: 0,
        }
    }

    /// Queues a lookup. When the queue is full the answer ("no name") is immediate.
    pub fn ask(&mut self, req: Request) {
        let mut items = match self.queue.items.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if items.len() >= MAX_QUEUED {
            drop(items);
            let _ = self.answers_tx.send(Answer {
                id: req.id,
                name: None,
                verified: false,
            });
            let _ = self.waker.wake();
            return;
        }
        items.push_back(req);
        drop(items);
        self.queue.ready.notify_one();
        if self.started < WORKERS {
            self.start_worker();
        }
    }

    fn start_worker(&mut self) {
        let queue = self.queue.clone();
        let tx = self.answers_tx.clone();
        let waker = self.waker.clone();
        let spawned = std::thread::Builder::new()
            .name("superd-lookup".into())
            .stack_size(128 * 1024)
            .spawn(move || worker(&queue, &tx, &waker));
        if spawned.is_ok() {
            self.started += 1;
        }
    }

    /// Answers that have arrived (non-blocking).
    pub fn answers(&self) -> Vec<Answer> {
        self.answers.try_iter().collect()
    }
}

fn worker(queue: &Queue, tx: &Sender<Answer>, waker: &mio::Waker) {
    block_signals();
    loop {
        let req = {
            let mut items = match queue.items.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            loop {
                if let Some(r) = items.pop_front() {
                    break r;
                }
                items = match queue.ready.wait(items) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
            }
        };
        let answer = resolve(req);
        if tx.send(answer).is_err() {
            return; // the daemon is gone
        }
        let _ = waker.wake();
    }
}

/// One lookup: reverse, then forward confirmation.
pub fn resolve(req: Request) -> Answer {
    let name = crate::listen::reverse_name(req.addr);
    let verified = name.as_deref().is_some_and(|n| {
        (n, 0)
            .to_socket_addrs()
            .map(|mut addrs| addrs.any(|a| crate::listen::unmap(a).ip() == req.addr))
            .unwrap_or(false)
    });
    Answer {
        id: req.id,
        name,
        verified,
    }
}

fn block_signals() {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), None);
}

/// Names of recent datagram clients. A datagram cannot wait in a queue of its own the way a
/// connection does, so a datagram service whose rules need the client's name stops reading its
/// socket while the name is looked up, then reads again and finds the answer here. Entries
/// live `NAME_TTL`; the cache holds at most `NAME_CACHE_MAX` of them (expired ones are dropped
/// first, then the oldest), so a flood of sources cannot grow it.
pub struct NameCache {
    entries: std::collections::HashMap<IpAddr, CachedName>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedName {
    pub name: Option<String>,
    pub verified: bool,
    at: std::time::Instant,
}

pub const NAME_TTL: std::time::Duration = std::time::Duration::from_secs(30);
pub const NAME_CACHE_MAX: usize = 256;

impl NameCache {
    pub fn new() -> NameCache {
        NameCache {
            entries: std::collections::HashMap::new(),
        }
    }

    /// The cached answer for `addr`, if it is younger than `NAME_TTL` at `now`.
    pub fn get(&self, addr: IpAddr, now: std::time::Instant) -> Option<&CachedName> {
        self.entries
            .get(&addr)
            .filter(|c| now.saturating_duration_since(c.at) < NAME_TTL)
    }

    pub fn insert(
        &mut self,
        addr: IpAddr,
        name: Option<String>,
        verified: bool,
        now: std::time::Instant,
    ) {
        if self.entries.len() >= NAME_CACHE_MAX && !self.entries.contains_key(&addr) {
            self.entries
                .retain(|_, c| now.saturating_duration_since(c.at) < NAME_TTL);
            if self.entries.len() >= NAME_CACHE_MAX {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, c)| c.at)
                    .map(|(a, _)| *a);
                if let Some(a) = oldest {
                    self.entries.remove(&a);
                }
            }
        }
        let entry = CachedName {
            name,
            verified,
            at: now,
        };
        self.entries.insert(addr, entry);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Default for NameCache {
    fn default() -> Self {
        NameCache::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn loopback_has_a_name_that_leads_back_to_it() {
        let a = resolve(Request {
            id: 7,
            addr: "127.0.0.1".parse().unwrap(),
        });
        assert_eq!(a.id, 7);
        // /etc/hosts names 127.0.0.1 on every machine this runs on ("localhost").
        assert!(a.name.is_some(), "{a:?}");
        assert!(a.verified, "{a:?}");
    }

    #[test]
    fn answers_come_back_through_the_waker() {
        let mut poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), mio::Token(9)).unwrap();
        let mut l = Lookups::new(waker);
        for id in 0..5 {
            l.ask(Request {
                id,
                addr: "127.0.0.1".parse().unwrap(),
            });
        }
        let mut got = Vec::new();
        let mut events = mio::Events::with_capacity(8);
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < 5 && Instant::now() < deadline {
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            got.extend(l.answers().into_iter().map(|a| a.id));
        }
        got.sort();
        assert_eq!(got, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn name_cache_answers_until_the_ttl_and_stays_bounded() {
        use std::time::{Duration, Instant};
        let t0 = Instant::now();
        let mut c = NameCache::new();
        let a: IpAddr = "127.0.0.5".parse().unwrap();
        c.insert(a, Some("five.example".into()), true, t0);
        let hit = c.get(a, t0 + Duration::from_secs(29)).unwrap();
        assert_eq!(hit.name.as_deref(), Some("five.example"));
        assert!(hit.verified);
        assert!(c.get(a, t0 + NAME_TTL).is_none(), "expired");
        // A negative answer is cached too.
        let b: IpAddr = "127.0.0.6".parse().unwrap();
        c.insert(b, None, false, t0);
        assert_eq!(c.get(b, t0).unwrap().name, None);
        // Full: expired entries go first, then the oldest.
        for n in 0..(NAME_CACHE_MAX as u32 * 3) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            c.insert(ip, None, false, t0 + Duration::from_millis(u64::from(n)));
            assert!(c.len() <= NAME_CACHE_MAX);
        }
        let last = IpAddr::from(std::net::Ipv4Addr::from(
            0x0a00_0000 + NAME_CACHE_MAX as u32 * 3 - 1,
        ));
        assert!(c.get(last, t0 + Duration::from_secs(1)).is_some());
        assert!(c.get(a, t0).is_none(), "the oldest was evicted");
    }
}
