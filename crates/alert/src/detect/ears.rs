//! EARS C2 for series with under three days of history: the window is compared with the mean
//! and standard deviation of the 7 windows that end before a gap of 2 windows (so a rise that
//! started just before does not hide in its own reference), the sd floored at 1.

/// Reference windows and the gap between them and the evaluated window.
pub const REFERENCE_WINDOWS: usize = 7;
pub const GAP_WINDOWS: usize = 2;
/// The C2 statistic above which the window alarms.
pub const THRESHOLD: f64 = 3.0;

/// Mean and floored sd of the reference windows, from window sums listed newest first
/// (index 0 is the window just before the evaluated one). `None` when too few windows exist.
pub fn reference(previous_windows: &[u64]) -> Option<(f64, f64)> {
    let refs = previous_windows.get(GAP_WINDOWS..GAP_WINDOWS + REFERENCE_WINDOWS)?;
    let n = refs.len() as f64;
    let mean = refs.iter().sum::<u64>() as f64 / n;
    let var = refs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, var.sqrt().max(1.0)))
}

/// The C2 statistic (x − mean) / sd.
pub fn statistic(observed: u64, mean: f64, sd: f64) -> f64 {
    (observed as f64 - mean) / sd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_the_gap_and_floors_the_sd() {
        // Newest first: the two gap windows are huge and must not count.
        let prev = [100, 100, 2, 2, 2, 2, 2, 2, 2];
        let (mean, sd) = reference(&prev).unwrap();
        assert_eq!(mean, 2.0);
        assert_eq!(sd, 1.0);
        assert_eq!(statistic(8, mean, sd), 6.0);
    }

    #[test]
    fn needs_nine_previous_windows() {
        assert!(reference(&[1; 8]).is_none());
        let (mean, sd) = reference(&[0, 0, 1, 3, 1, 3, 1, 3, 2]).unwrap();
        assert_eq!(mean, 2.0);
        assert!((sd - 1.0).abs() < 1e-12);
    }
}
