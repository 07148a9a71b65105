//! What the bench reads from /proc: this process's RSS and CPU time, the machine's CPU use and
//! load. Linux only; elsewhere every figure reads as zero.

/// Resident set size of this process in KiB (`VmRSS` of /proc/self/status).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// CPU time (user + system) this process has used, in clock ticks of 1/100 s (the unit /proc
/// reports in on every Linux build, whatever the kernel's own tick).
pub fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    field(11) + field(12)
}

/// The machine's CPU time so far, in ticks: (busy, total) over every CPU, from /proc/stat.
pub fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let values: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = values.iter().take(8).sum();
    // idle and iowait are the 4th and 5th values.
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg writes them.
pub fn loadavg() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_resident_set_and_uses_cpu() {
        if !std::path::Path::new("/proc/self/status").exists() {
            return;
        }
        assert!(super::rss_kib() > 0);
        let (busy, total) = super::machine_ticks();
        assert!(total > 0 && busy <= total);
        assert_eq!(super::loadavg().split(' ').count(), 3);
    }
}
