//! The guards every statistical alarm must also pass, and plain per-topic thresholds.

use otklik_model::Topic;
use serde::Deserialize;

/// A window count x is worth telling anyone about only if it is not tiny in absolute terms:
/// x ≥ 5, x ≥ 2μ and x − μ ≥ 3. These keep a quiet series' single unlucky hour (1 voice where
/// 0.01 was expected: p ≈ 0.01, or 3 voices: p ≈ 2e-7) from paging anyone.
pub fn passes_guards(observed: u64, expected: f64) -> bool {
    let x = observed as f64;
    observed >= 5 && x >= 2.0 * expected && x - expected >= 3.0
}

/// «≥ 10 heating voices in an hour anywhere»: fires on any series of the topic, whatever its
/// baseline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRule {
    pub topic: Topic,
    /// Voices in the window that fire the rule.
    pub count: u64,
    /// Window length in hours (1 to 24).
    #[serde(default = "one_hour")]
    pub window_hours: u32,
}

fn one_hour() -> u32 {
    1
}

impl ThresholdRule {
    pub fn fires(&self, topic: Topic, window_hours: u32, observed: u64) -> bool {
        self.topic == topic && self.window_hours == window_hours && observed >= self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_need_five_double_and_three_more() {
        assert!(!passes_guards(4, 0.1));
        assert!(passes_guards(5, 0.1));
        assert!(!passes_guards(5, 2.6), "5 < 2 × 2.6");
        assert!(!passes_guards(9, 6.5), "9 − 6.5 < 3 and 9 < 13");
        assert!(passes_guards(20, 10.0));
        assert!(!passes_guards(19, 10.0));
    }

    #[test]
    fn threshold_rule_is_per_topic_and_window() {
        let rule = ThresholdRule { topic: Topic::Heating, count: 10, window_hours: 1 };
        assert!(rule.fires(Topic::Heating, 1, 10));
        assert!(!rule.fires(Topic::Heating, 1, 9));
        assert!(!rule.fires(Topic::Heating, 3, 12));
        assert!(!rule.fires(Topic::Roads, 1, 50));
    }
}
