//! Telegram's limits for a bot writing to one chat: about one message a second, and in a group
//! or channel about 20 a minute. Every call that writes (send or edit) takes a slot.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::time::Duration;

/// The slots taken in one chat.
#[derive(Debug, Clone)]
pub struct ChatLimiter {
    interval: Duration,
    /// `None` for a private chat.
    per_minute: Option<u32>,
    taken: VecDeque<DateTime<Utc>>,
}

impl ChatLimiter {
    pub fn new(interval: Duration, per_minute: Option<u32>) -> Self {
        ChatLimiter { interval, per_minute, taken: VecDeque::new() }
    }

    /// Takes the first free slot at or after `now` and returns it: the caller waits until then.
    pub fn reserve(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut at = now;
        if let Some(last) = self.taken.back() {
            at = at.max(crate::clock::after(*last, self.interval));
        }
        if let Some(limit) = self.per_minute.map(|n| n.max(1) as usize) {
            if self.taken.len() >= limit {
                let oldest_in_window = self.taken[self.taken.len() - limit];
                at = at.max(crate::clock::after(oldest_in_window, Duration::from_secs(60)));
            }
        }
        self.taken.push_back(at);
        let keep = self.per_minute.map_or(1, |n| n.max(1) as usize);
        while self.taken.len() > keep {
            self.taken.pop_front();
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn one_a_second_per_chat() {
        let mut limiter = ChatLimiter::new(Duration::from_secs(1), None);
        let slots: Vec<DateTime<Utc>> = (0..3).map(|_| limiter.reserve(t(0))).collect();
        assert_eq!(slots, [t(0), t(1), t(2)]);
        assert_eq!(limiter.reserve(t(10)), t(10));
    }

    #[test]
    fn twenty_a_minute_in_a_group() {
        let mut limiter = ChatLimiter::new(Duration::from_secs(1), Some(20));
        let slots: Vec<DateTime<Utc>> = (0..22).map(|_| limiter.reserve(t(0))).collect();
        assert_eq!(slots[19], t(19));
        assert_eq!(slots[20], t(60), "the 21st waits for the first to leave the minute");
        assert_eq!(slots[21], t(61));
    }
}
