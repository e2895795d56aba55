//! "Did you mean": the edit distance behind suggestions for misspelt options and attributes.
//!
//! Written by hand (a dozen lines) rather than pulling in a string-distance crate.

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions each cost 1, so `-dontfrok` is 1 away from `-dontfork`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn transpositions_count_once() {
        assert_eq!(edit_distance("-dontfrok", "-dontfork"), 1);
        assert_eq!(edit_distance("sever", "server"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("limit", "limit"), 0);
    }
}
