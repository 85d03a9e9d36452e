//! How figures are written for people: microseconds as `850µs`, `12.30ms` or
//! `1.20s`, bytes as MiB. On the metrics floor, where everything that
//! prints a figure meets: the recorder's warnings, the summaries and
//! exports, the gate's tables and the live screen.

/// Microseconds as a short human figure: 850µs, 12.30ms, 1.20s.
pub fn fmt_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

/// Bytes as MiB with one decimal: `18.8 MiB`.
pub fn fmt_mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

/// `1 session`, `2 sessions`: a count with its noun (plural by `s`).
pub fn count_of(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_session_and_two_sessions() {
        assert_eq!(count_of(1, "session"), "1 session");
        assert_eq!(count_of(2, "session"), "2 sessions");
        assert_eq!(count_of(0, "late send"), "0 late sends");
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(fmt_us(850), "850µs");
        assert_eq!(fmt_us(12_300), "12.30ms");
        assert_eq!(fmt_us(1_200_000), "1.20s");
        assert_eq!(fmt_mib(19_713_229.0), "18.8 MiB");
    }
}
