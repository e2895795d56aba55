//! The chargen pattern (RFC 864) exactly as xinetd 2.3.15.3 produces it (`builtins.c`
//! `generate_line`).
//!
//! Lines are 72 characters plus CRLF (74 bytes). Line `k` starts `k` characters further into a
//! ring of printable characters. xinetd's ring differs from RFC 864's, and we keep its quirks so
//! clients comparing bytes see no change:
//! * the ring is `!`..=`}` (0x21..=0x7d, 93 characters): no space (RFC 864 starts at 0x20) and
//!   no `~`, because xinetd wraps when the next character *would be* 126;
//! * the line start walks 95 positions of a 166-byte buffer filled with that 93-character ring,
//!   so one cycle is 95 lines, and the lines starting with `!` and `"` come twice in a row at the
//!   end of each cycle (`… |} ! " ! " # …`).
//!
//! The whole cycle (95 × 74 = 7030 bytes) is built at compile time, so stream sessions write
//! straight from it and hold only an offset: no buffer, no per-line work.

/// Printable characters per line.
pub const LINE_CHARS: usize = 72;
/// Bytes per full line: the characters plus CRLF.
pub const LINE_LEN: usize = LINE_CHARS + 2;
/// Size of a chargen datagram reply: xinetd's 1024-byte buffer, 13 full lines and a last line
/// of 60 characters plus CRLF.
pub const DGRAM_LEN: usize = 1024;

/// First character of the ring.
const FIRST: u8 = b'!';
/// Characters in the ring: `!`..=`}`.
const RING_CHARS: usize = 93;
/// Line starts in one cycle (xinetd: `RING_BUF_SIZE - LINE_LENGTH + 1` = 166 - 72 + 1).
const CYCLE_LINES: usize = 95;
/// Bytes in one cycle.
pub(crate) const CYCLE_LEN: usize = CYCLE_LINES * LINE_LEN;

/// One full cycle of lines, CRLF included.
pub(crate) static CYCLE: [u8; CYCLE_LEN] = build_cycle();

const fn build_cycle() -> [u8; CYCLE_LEN] {
    let mut out = [0u8; CYCLE_LEN];
    let mut line = 0;
    while line < CYCLE_LINES {
        let base = line * LINE_LEN;
        let mut i = 0;
        while i < LINE_CHARS {
            out[base + i] = FIRST + ((line + i) % RING_CHARS) as u8;
            i += 1;
        }
        out[base + LINE_CHARS] = b'\r';
        out[base + LINE_CHARS + 1] = b'\n';
        line += 1;
    }
    out
}

/// Position in the chargen line sequence. Iterating yields endless full 74-byte lines; the
/// `fill*` methods write into a caller's buffer without allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chargen {
    /// Index of the next line in the cycle, `0..CYCLE_LINES`.
    line: usize,
}

impl Chargen {
    /// A generator at the first line (the one starting with `!`).
    pub fn new() -> Chargen {
        Chargen { line: 0 }
    }

    /// Writes the next line into `buf` and returns its length, as xinetd's `generate_line`:
    /// `min(72, buf.len() - 2)` characters then CRLF. Writes nothing and returns 0 when `buf`
    /// is shorter than 2 bytes (the position does not move then).
    pub fn fill_line(&mut self, buf: &mut [u8]) -> usize {
        if buf.len() < 2 {
            return 0;
        }
        let chars = LINE_CHARS.min(buf.len() - 2);
        let start = self.line * LINE_LEN;
        buf[..chars].copy_from_slice(&CYCLE[start..start + chars]);
        buf[chars] = b'\r';
        buf[chars + 1] = b'\n';
        self.advance();
        chars + 2
    }

    /// Fills `buf` with lines as xinetd's datagram chargen does (full lines while they fit, then
    /// one shortened line if more than 2 bytes remain) and returns the number of bytes written.
    /// A 1024-byte buffer gets exactly 1024 bytes.
    pub fn fill(&mut self, buf: &mut [u8]) -> usize {
        let mut used = 0;
        while buf.len() - used > 2 {
            let end = buf.len().min(used + LINE_LEN);
            used += self.fill_line(&mut buf[used..end]);
        }
        used
    }

    fn advance(&mut self) {
        self.line = (self.line + 1) % CYCLE_LINES;
    }
}

impl Iterator for Chargen {
    type Item = &'static [u8];

    /// The next full line, CRLF included; never ends.
    fn next(&mut self) -> Option<&'static [u8]> {
        let start = self.line * LINE_LEN;
        self.advance();
        Some(&CYCLE[start..start + LINE_LEN])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE0: &[u8] =
        b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n";
    const LINE1: &[u8] =
        b"\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghi\r\n";
    const LINE2: &[u8] =
        b"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghij\r\n";

    #[test]
    fn first_three_lines_are_exact() {
        let lines: Vec<&[u8]> = Chargen::new().take(3).collect();
        assert_eq!(lines, [LINE0, LINE1, LINE2]);
        assert!(lines.iter().all(|l| l.len() == LINE_LEN));
    }

    #[test]
    fn ring_is_bang_to_close_brace_and_wraps_after_brace() {
        // Line 21 starts at '6' and reaches '}' (0x7d) at its last character; line 22 wraps.
        let line21 = Chargen::new().nth(21).unwrap();
        assert_eq!(line21[0], b'6');
        assert_eq!(line21[71], b'}');
        let line22 = Chargen::new().nth(22).unwrap();
        assert_eq!(&line22[70..74], b"}!\r\n");
        assert!(!CYCLE.contains(&b' '));
        assert!(!CYCLE.contains(&b'~'));
    }

    #[test]
    fn cycle_repeats_bang_and_quote_lines_then_restarts() {
        let firsts: Vec<u8> = Chargen::new().take(2 * 95).map(|l| l[0]).collect();
        assert_eq!(firsts[92], b'}');
        assert_eq!(&firsts[93..98], b"!\"!\"#");
        assert_eq!(Chargen::new().nth(93).unwrap(), LINE0);
        assert_eq!(Chargen::new().nth(94).unwrap(), LINE1);
        assert_eq!(Chargen::new().nth(95).unwrap(), LINE0);
        assert_eq!(firsts[..95], firsts[95..]);
    }

    #[test]
    fn datagram_fill_is_13_full_lines_and_a_60_char_line() {
        let mut buf = [0u8; DGRAM_LEN];
        let n = Chargen::new().fill(&mut buf);
        assert_eq!(n, 1024);
        let mut lines = Chargen::new();
        for i in 0..13 {
            assert_eq!(
                &buf[i * 74..(i + 1) * 74],
                lines.next().unwrap(),
                "line {i}"
            );
        }
        let last = &buf[13 * 74..];
        assert_eq!(last.len(), 62);
        assert_eq!(&last[..60], &lines.next().unwrap()[..60]);
        assert_eq!(&last[60..], b"\r\n");
        assert_eq!(last[0], b'.'); // the 14th line starts 13 characters after '!'
    }

    #[test]
    fn fill_line_shortens_to_the_buffer() {
        let mut g = Chargen::new();
        let mut tiny = [0u8; 1];
        assert_eq!(g.fill_line(&mut tiny), 0);
        let mut two = [0u8; 2];
        assert_eq!(g.fill_line(&mut two), 2);
        assert_eq!(&two, b"\r\n");
        let mut five = [0u8; 5];
        assert_eq!(g.fill_line(&mut five), 5);
        assert_eq!(&five, b"\"#$\r\n"); // the CRLF-only line consumed line 0
        let mut big = [0u8; 100];
        assert_eq!(g.fill_line(&mut big), LINE_LEN);
        assert_eq!(&big[..LINE_LEN], LINE2);
    }

    #[test]
    fn fill_stops_when_two_bytes_or_fewer_remain() {
        let mut buf = [0u8; 76];
        assert_eq!(Chargen::new().fill(&mut buf), 74);
        let mut buf = [0u8; 77];
        assert_eq!(Chargen::new().fill(&mut buf), 77);
        assert_eq!(&buf[74..], b"\"\r\n");
    }
}
