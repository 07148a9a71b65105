//! The bench's measurement window and how its figures are printed.

use super::probe::{self, Pid};
use super::{Probes, Scenario};
use anyhow::{bail, Context, Result};
use otklik_pipeline::StageMetrics;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// One sample of the counters, taken each second.
#[derive(Debug, Clone)]
struct Sample {
    at: Instant,
    produced: u64,
    map_received: u64,
    sink_received: u64,
    sunk: u64,
    /// One per process of [`Probes::processes`], in its order.
    processes: Vec<ProcessSample>,
    machine: (u64, u64),
}

#[derive(Debug, Clone, Copy, Default)]
struct ProcessSample {
    rss_kib: u64,
    /// The peak RSS so far (VmHWM): catches a peak between two samples.
    peak_kib: u64,
    cpu_ticks: u64,
}

impl ProcessSample {
    fn take(pid: Pid) -> ProcessSample {
        ProcessSample {
            rss_kib: probe::status_kib(pid, "VmRSS:"),
            peak_kib: probe::status_kib(pid, "VmHWM:"),
            cpu_ticks: probe::process_cpu_ticks(pid),
        }
    }
}

impl Sample {
    fn take(probes: &Probes) -> Sample {
        Sample {
            at: Instant::now(),
            produced: probes.produced.load(Ordering::Relaxed),
            map_received: StageMetrics::get(&probes.map.received),
            sink_received: StageMetrics::get(&probes.sink.received),
            sunk: StageMetrics::get(&probes.sink.emitted),
            processes: probes.processes.iter().map(|(_, pid)| ProcessSample::take(*pid)).collect(),
            machine: probe::machine_ticks(),
        }
    }

    /// Posts published to the raw topic and not yet read by the map stage.
    fn map_lag(&self) -> u64 {
        self.produced.saturating_sub(self.map_received)
    }

    /// Posts the map stage took and the sink has not read yet. Counted in posts, not records:
    /// the classifier also publishes a series record for each post with a topic.
    fn sink_lag(&self) -> u64 {
        self.map_received.saturating_sub(self.sink_received)
    }
}

/// The figures of one measurement window.
#[derive(Debug, Clone)]
pub struct Window {
    pub seconds: f64,
    /// Posts the sink wrote in the window.
    pub sunk: u64,
    pub median_rate: f64,
    pub overall_rate: f64,
    pub map_lag_end: u64,
    pub map_lag_max: u64,
    pub sink_lag_end: u64,
    pub sink_lag_max: u64,
    /// One row per process: the bench's own, then each stage process (`--processes`).
    pub processes: Vec<ProcessFigures>,
    /// Every CPU of the machine busy, in % of the whole machine (this process included).
    pub machine_percent: f64,
}

/// What one process used in the window.
#[derive(Debug, Clone)]
pub struct ProcessFigures {
    pub name: String,
    /// The largest RSS sampled, or the kernel's peak (VmHWM) when that is larger.
    pub rss_max_mib: f64,
    pub rss_end_mib: f64,
    pub cpu_seconds: f64,
    /// In % of one core.
    pub cpu_percent: f64,
    /// Its part of all the machine's CPU time, in %.
    pub machine_share: f64,
}

/// Samples every second for `duration` from `first` while the stages run.
pub async fn measure(
    probes: &Probes,
    stages: &mut tokio::task::JoinSet<Result<()>>,
    duration: Duration,
    first: Instant,
) -> Result<Window> {
    let mut samples = vec![Sample::take(probes)];
    let mut tick = tokio::time::interval_at(first + Duration::from_secs(1), Duration::from_secs(1));
    while first.elapsed() < duration {
        tick.tick().await;
        check_stages(stages)?;
        samples.push(Sample::take(probes));
    }
    let names: Vec<String> = probes.processes.iter().map(|(name, _)| name.clone()).collect();
    Ok(window(&samples, &names))
}

fn window(samples: &[Sample], names: &[String]) -> Window {
    let (start, end) = (&samples[0], &samples[samples.len() - 1]);
    let seconds = (end.at - start.at).as_secs_f64().max(f64::EPSILON);
    let mut rates: Vec<f64> = samples
        .windows(2)
        .map(|w| (w[1].sunk - w[0].sunk) as f64 / (w[1].at - w[0].at).as_secs_f64().max(f64::EPSILON))
        .collect();
    rates.sort_by(f64::total_cmp);
    let (busy, total) = (end.machine.0 - start.machine.0, (end.machine.1 - start.machine.1).max(1));
    Window {
        seconds,
        sunk: end.sunk - start.sunk,
        median_rate: median(&rates),
        overall_rate: (end.sunk - start.sunk) as f64 / seconds,
        map_lag_end: end.map_lag(),
        map_lag_max: samples.iter().map(Sample::map_lag).max().unwrap_or(0),
        sink_lag_end: end.sink_lag(),
        sink_lag_max: samples.iter().map(Sample::sink_lag).max().unwrap_or(0),
        processes: names.iter().enumerate().map(|(i, n)| process_figures(samples, i, n, seconds, total)).collect(),
        machine_percent: busy as f64 * 100.0 / total as f64,
    }
}

/// Process `i`'s figures; `machine_ticks` is every CPU's time in the window.
fn process_figures(samples: &[Sample], i: usize, name: &str, seconds: f64, machine_ticks: u64) -> ProcessFigures {
    let of = |s: &Sample| s.processes.get(i).copied().unwrap_or_default();
    let (start, end) = (of(&samples[0]), of(&samples[samples.len() - 1]));
    let mib = |kib: u64| kib as f64 / 1024.0;
    let rss_max = samples.iter().map(|s| of(s).rss_kib.max(of(s).peak_kib)).max().unwrap_or(0);
    let ticks = end.cpu_ticks.saturating_sub(start.cpu_ticks);
    ProcessFigures {
        name: name.to_owned(),
        rss_max_mib: mib(rss_max),
        rss_end_mib: mib(end.rss_kib),
        cpu_seconds: ticks as f64 / 100.0,
        cpu_percent: ticks as f64 / seconds,
        machine_share: ticks as f64 * 100.0 / machine_ticks.max(1) as f64,
    }
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Fails when a stage has ended: a stage never ends by itself while the bench runs.
pub fn check_stages(stages: &mut tokio::task::JoinSet<Result<()>>) -> Result<()> {
    if let Some(done) = stages.try_join_next() {
        done.context("a stage panicked")??;
        bail!("a stage stopped by itself");
    }
    Ok(())
}

pub struct ScenarioResult {
    pub scenario: Scenario,
    pub window: Window,
    /// How long the stages took to catch up once the producer stopped.
    pub drained: Option<Duration>,
    pub dead_lettered: u64,
    /// Posts the feed published, and rows the sink wrote, in the whole run.
    pub produced: u64,
    pub counted: u64,
}

pub fn print_result(result: &ScenarioResult) {
    let w = &result.window;
    println!(
        "{:?}: {:.0} posts/s median of per-second rates, {:.0} overall ({} posts in {:.1}s)",
        result.scenario, w.median_rate, w.overall_rate, w.sunk, w.seconds
    );
    println!(
        "  lag (posts): map stage {} at the end, {} at most; sink {} at the end, {} at most",
        w.map_lag_end, w.map_lag_max, w.sink_lag_end, w.sink_lag_max
    );
    for p in &w.processes {
        println!(
            "  {}: RSS {:.0} MiB at most, {:.0} MiB at the end; CPU {:.1} s ({:.0}% of one core, {:.0}% of the \
             machine)",
            p.name, p.rss_max_mib, p.rss_end_mib, p.cpu_seconds, p.cpu_percent, p.machine_share
        );
    }
    println!("  the machine: {:.0}% busy (besides these: the broker, other work)", w.machine_percent);
    let drained = result
        .drained
        .map_or_else(|| "did not catch up in time".to_owned(), |d| format!("caught up {:.1}s after", d.as_secs_f64()));
    println!("  producer stopped: the sink {drained}; {} dead-lettered", result.dead_lettered);
    println!("  posts published {}, written by the sink {}", result.produced, result.counted);
}

const PROCESS_HEADER: &str =
    "\nscenario     process                                     RSS max MiB  CPU s  CPU % of a core  machine %\n";

/// The scenarios, then one row per process of each: peak RSS, CPU seconds, share of the machine.
pub fn render_table(results: &[ScenarioResult]) -> String {
    let mut out = String::from(
        "scenario     posts/s (median)  posts/s (overall)  map lag max  sink lag max  RSS max MiB  CPU %  machine %\n",
    );
    for r in results {
        let w = &r.window;
        // The bench's own process: everything in one process, the feed alone with --processes.
        let own = w.processes.first();
        out.push_str(&format!(
            "{:<12} {:>16.0}  {:>17.0}  {:>11}  {:>12}  {:>11.0}  {:>5.0}  {:>9.0}\n",
            format!("{:?}", r.scenario).to_lowercase(),
            w.median_rate,
            w.overall_rate,
            w.map_lag_max,
            w.sink_lag_max,
            own.map_or(0.0, |p| p.rss_max_mib),
            own.map_or(0.0, |p| p.cpu_percent),
            w.machine_percent
        ));
    }
    out.push_str(PROCESS_HEADER);
    for r in results {
        for p in &r.window.processes {
            out.push_str(&format!(
                "{:<12} {:<43} {:>11.0}  {:>5.1}  {:>15.0}  {:>9.1}\n",
                format!("{:?}", r.scenario).to_lowercase(),
                p.name,
                p.rss_max_mib,
                p.cpu_seconds,
                p.cpu_percent,
                p.machine_share
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: Instant, sunk: u64) -> Sample {
        Sample {
            at,
            produced: sunk + 10,
            map_received: sunk + 5,
            sink_received: sunk,
            sunk,
            processes: vec![ProcessSample { rss_kib: 2048, peak_kib: 3072, cpu_ticks: sunk / 10 }],
            machine: (0, sunk / 5),
        }
    }

    #[test]
    fn the_median_is_of_per_second_rates_and_the_overall_rate_of_the_whole_window() {
        let t = Instant::now();
        let counts = [0, 100, 300, 400, 1400];
        let samples: Vec<Sample> =
            counts.iter().enumerate().map(|(i, &n)| sample(t + Duration::from_secs(i as u64), n)).collect();
        let w = window(&samples, &["stage".to_owned()]);
        // Rates 100, 200, 100, 1000: the median is 150, the overall 1400 / 4 s.
        assert!((w.median_rate - 150.0).abs() < 1e-6, "{w:?}");
        assert!((w.overall_rate - 350.0).abs() < 1e-6, "{w:?}");
        assert_eq!((w.map_lag_end, w.sink_lag_end, w.sunk), (5, 5, 1400));
        // The kernel's peak counts when larger than every sample; CPU: 140 ticks of 280 in 4 s.
        let stage = &w.processes[0];
        assert!((stage.rss_max_mib - 3.0).abs() < 1e-9 && (stage.rss_end_mib - 2.0).abs() < 1e-9);
        assert!((stage.cpu_seconds - 1.4).abs() < 1e-9 && (stage.machine_share - 50.0).abs() < 1e-9, "{stage:?}");
    }
}
