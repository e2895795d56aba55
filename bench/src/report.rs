//! Samples → Markdown: one table of medians over rounds with superd's ratio to every other
//! program (one column each), one table of every round's value, then notes and the exact commands. Pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::daemon::Kind;
use crate::stats::median;

/// Which direction of a figure is good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// How a figure's numbers print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    PerSec,
    Micros,
    /// Stored in KiB, printed in MiB.
    Kib,
    Millis,
    Count,
    Percent,
    /// Stored in MB/s (10^6 bytes).
    MBps,
    /// A quotient of two of the program's own figures, printed as `1.02×`.
    Ratio,
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: String,
    pub label: String,
    pub better: Better,
    pub unit: Unit,
}

/// Every value measured: (row id, daemon) → one value per round that produced one.
pub type Samples = BTreeMap<(String, Kind), Vec<f64>>;

/// All the report needs.
pub struct Report {
    pub title_facts: Vec<(String, String)>,
    pub rows: Vec<Row>,
    pub samples: Samples,
    pub notes: Vec<String>,
    pub commands: Vec<String>,
    pub config_sample: String,
}

fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::PerSec => format!("{v:.0}/s"),
        Unit::Micros if v < 100.0 => format!("{v:.1} µs"),
        Unit::Micros => format!("{v:.0} µs"),
        Unit::Kib => format!("{:.2} MiB", v / 1024.0),
        Unit::Millis if v < 10.0 => format!("{v:.2} ms"),
        Unit::Millis => format!("{v:.0} ms"),
        Unit::Count => format!("{v:.0}"),
        Unit::Percent => format!("{v:.1} %"),
        Unit::MBps => format!("{v:.0} MB/s"),
        Unit::Ratio => format!("{v:.2}×"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".to_string(),
    }
}

/// The median of a row for one daemon.
pub fn median_of(samples: &Samples, row: &str, kind: Kind) -> Option<f64> {
    samples
        .get(&(row.to_string(), kind))
        .and_then(|v| median(v))
}

/// Renders the whole report.
pub fn markdown(r: &Report) -> String {
    let mut s = String::from("# superd benchmark\n\n");
    for (k, v) in &r.title_facts {
        let _ = writeln!(s, "- **{k}:** {v}");
    }
    s.push_str(
        "\nMedians over rounds. Ratios are superd's median divided by the other daemon's. \
         For rows whose *better* column says **higher**, a ratio above 1.00× means superd is \
         better; for rows that say **lower**, a ratio below 1.00× means superd is better. \
         \"—\" means not measured (see Notes).\n\n",
    );
    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    let others = &Kind::ALL[1..];
    let ratio_titles: Vec<String> = others
        .iter()
        .map(|k| format!("superd ÷ {}", k.name()))
        .collect();
    let _ = writeln!(
        s,
        "| Figure | better | {} | {} |",
        names.join(" | "),
        ratio_titles.join(" | ")
    );
    let _ = writeln!(s, "|---|---|{}", "---|".repeat(names.len() + others.len()));
    for row in &r.rows {
        let med: Vec<Option<f64>> = Kind::ALL
            .iter()
            .map(|&k| median_of(&r.samples, &row.id, k))
            .collect();
        let cells: Vec<String> = med
            .iter()
            .map(|m| m.map_or("—".to_string(), |v| fmt_value(v, row.unit)))
            .collect();
        let ratios: Vec<String> = med[1..].iter().map(|&m| ratio(med[0], m)).collect();
        let better = match row.better {
            Better::Higher => "higher",
            Better::Lower => "lower",
        };
        let _ = writeln!(
            s,
            "| {} | {better} | {} | {} |",
            row.label,
            cells.join(" | "),
            ratios.join(" | "),
        );
    }

    s.push_str("\n## Every round\n\n");
    let _ = writeln!(s, "| Figure | {} |", names.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(names.len()));
    for row in &r.rows {
        let cells: Vec<String> = Kind::ALL
            .iter()
            .map(|&k| {
                r.samples
                    .get(&(row.id.clone(), k))
                    .filter(|v| !v.is_empty())
                    .map_or("—".to_string(), |v| {
                        v.iter()
                            .map(|&x| fmt_value(x, row.unit))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", row.label, cells.join(" | "));
    }

    s.push_str("\n## Notes\n\n");
    if r.notes.is_empty() {
        s.push_str("- none: every daemon started and every connection succeeded.\n");
    }
    for n in &r.notes {
        let _ = writeln!(s, "- {}", n.replace('\n', "\n  "));
    }

    s.push_str("\n## Commands\n\n```\n");
    for c in &r.commands {
        let _ = writeln!(s, "{c}");
    }
    s.push_str("```\n\nGenerated config (first service of each file; the others differ only in name and port):\n\n```\n");
    s.push_str(&r.config_sample);
    s.push_str("```\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_medians_ratios_and_dashes_for_missing_daemons() {
        let mut samples = Samples::new();
        samples.insert(("c1".into(), Kind::Superd), vec![900.0, 1000.0, 1100.0]);
        samples.insert(("c1".into(), Kind::Xinetd), vec![800.0, 500.0, 900.0]);
        let r = Report {
            title_facts: vec![("N".into(), "2000".into())],
            rows: vec![Row {
                id: "c1".into(),
                label: "spawn c=1: connections/s".into(),
                better: Better::Higher,
                unit: Unit::PerSec,
            }],
            samples,
            notes: vec!["ceiling: skipped".into()],
            commands: vec!["superd-bench".into()],
            config_sample: "service x\n".into(),
        };
        let md = markdown(&r);
        assert!(
            md.contains("| spawn c=1: connections/s | higher | 1000/s | 800/s | — | — | — | — | — | — | 1.25× | — | — | — | — | — | — |")
        );
        assert!(md.contains(
            "| spawn c=1: connections/s | 900/s, 1000/s, 1100/s | 800/s, 500/s, 900/s | — | — | — | — | — | — |"
        ));
        assert!(md.contains("- ceiling: skipped"));
    }

    #[test]
    fn values_print_in_their_units() {
        assert_eq!(fmt_value(3379.2, Unit::Kib), "3.30 MiB");
        assert_eq!(fmt_value(812.4, Unit::Micros), "812 µs");
        assert_eq!(fmt_value(12.34, Unit::Micros), "12.3 µs");
        assert_eq!(fmt_value(1.0349, Unit::Ratio), "1.03×");
    }
}
