//! What the bench reads from /proc: the RSS, peak RSS and CPU time of this process or of a stage
//! process it started, the machine's CPU use and load. Linux only; elsewhere every figure reads
//! as zero.

/// A process to sample: `/proc/self` or `/proc/<pid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    This,
    Child(u32),
}

impl Pid {
    fn file(self, name: &str) -> String {
        match self {
            Pid::This => format!("/proc/self/{name}"),
            Pid::Child(pid) => format!("/proc/{pid}/{name}"),
        }
    }
}

/// A KiB figure of /proc/<pid>/status (`VmRSS:`, `VmHWM:` — the peak RSS); 0 once the process
/// is gone.
pub fn status_kib(pid: Pid, field: &str) -> u64 {
    let status = std::fs::read_to_string(pid.file("status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// CPU time (user + system) of `pid`, in clock ticks of 1/100 s (the unit /proc reports in on
/// every Linux build, whatever the kernel's own tick); 0 once the process is gone.
pub fn process_cpu_ticks(pid: Pid) -> u64 {
    let stat = std::fs::read_to_string(pid.file("stat")).unwrap_or_default();
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
        use super::{status_kib, Pid};
        let rss = status_kib(Pid::This, "VmRSS:");
        // The same process by its number: its peak is at least what it holds now, give or take.
        let peak = status_kib(Pid::Child(std::process::id()), "VmHWM:");
        assert!(rss > 0 && peak >= rss / 2, "{rss} {peak}");
        assert_eq!(super::process_cpu_ticks(super::Pid::Child(u32::MAX)), 0);
        let (busy, total) = super::machine_ticks();
        assert!(total > 0 && busy <= total);
        assert_eq!(super::loadavg().split(' ').count(), 3);
    }
}
