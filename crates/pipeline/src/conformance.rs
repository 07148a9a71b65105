//! The behaviour every [`Bus`] must show, as runnable checks: the memory bus runs them in unit
//! tests and the Kafka adapter against a real broker, so the two wirings cannot drift apart.
//!
//! Each check takes a topic name that must be fresh (unused) and returns a description of the
//! first violation.

use crate::bus::{Bus, Message, Offsets};
use std::collections::BTreeSet;
use std::time::Duration;

/// How long a check waits for a message before calling it missing (a Kafka group join takes a
/// few seconds).
pub const RECEIVE_TIMEOUT: Duration = Duration::from_secs(30);

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

async fn receive(subscriber: &mut dyn crate::Subscriber, n: usize) -> Result<Vec<Message>, String> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match tokio::time::timeout(RECEIVE_TIMEOUT, subscriber.recv()).await {
            Ok(Ok(message)) => got.push(message),
            Ok(Err(e)) => return Err(format!("recv failed after {} of {n} messages: {e}", got.len())),
            Err(_) => return Err(format!("only {} of {n} messages arrived within {RECEIVE_TIMEOUT:?}", got.len())),
        }
    }
    Ok(got)
}

/// Nothing more arrives within `wait`.
async fn receive_nothing(subscriber: &mut dyn crate::Subscriber, wait: Duration) -> Result<(), String> {
    match tokio::time::timeout(wait, subscriber.recv()).await {
        Err(_) => Ok(()),
        Ok(Ok(m)) => Err(format!("unexpected extra message at {}:{}@{}", m.topic, m.partition, m.offset)),
        Ok(Err(e)) => Err(format!("recv failed: {e}")),
    }
}

fn payloads(messages: &[Message]) -> BTreeSet<Vec<u8>> {
    messages.iter().map(|m| m.payload.clone()).collect()
}

async fn publish_numbered(bus: &dyn Bus, topic: &str, n: usize) -> Result<BTreeSet<Vec<u8>>, String> {
    let publisher = bus.publisher();
    let mut sent = BTreeSet::new();
    for i in 0..n {
        // Three keys, so several partitions are used and per-key order can be checked.
        let key = format!("key-{}", i % 3);
        let payload = format!("{key}/{i:04}").into_bytes();
        publisher.publish(topic, key.as_bytes(), &payload).await.map_err(|e| format!("publish failed: {e}"))?;
        sent.insert(payload);
    }
    Ok(sent)
}

/// Everything published is delivered once to a new group, with key and payload intact and each
/// key's records in publish order.
pub async fn delivers_everything_in_key_order(bus: &dyn Bus, topic: &str) -> Result<(), String> {
    let sent = publish_numbered(bus, topic, 30).await?;
    let mut subscriber = bus.subscribe("conformance-order", &[topic]).await.map_err(|e| e.to_string())?;
    let got = receive(subscriber.as_mut(), sent.len()).await?;
    ensure!(payloads(&got) == sent, "delivered payloads differ from published ones");
    for key in ["key-0", "key-1", "key-2"] {
        let of_key: Vec<_> =
            got.iter().filter(|m| m.key.as_deref() == Some(key.as_bytes())).map(|m| m.payload.clone()).collect();
        let mut sorted = of_key.clone();
        sorted.sort();
        ensure!(of_key == sorted, "records of {key} arrived out of order");
    }
    receive_nothing(subscriber.as_mut(), Duration::from_millis(500)).await
}

/// After a subscription commits part of what it received and goes away, the next subscription
/// of the same group receives exactly the uncommitted rest; another group receives everything.
pub async fn redelivers_uncommitted(bus: &dyn Bus, topic: &str) -> Result<(), String> {
    let sent = publish_numbered(bus, topic, 20).await?;
    let group = "conformance-redelivery";
    // The independent group exists before anything is committed (the memory bus keeps records
    // until every known group has committed them; Kafka keeps them by retention time).
    let mut other = bus.subscribe("conformance-other-group", &[topic]).await.map_err(|e| e.to_string())?;
    let everything = receive(other.as_mut(), sent.len()).await?;
    ensure!(payloads(&everything) == sent, "an independent group did not receive every message");
    drop(other);
    let mut first = bus.subscribe(group, &[topic]).await.map_err(|e| e.to_string())?;
    let got = receive(first.as_mut(), sent.len()).await?;
    let (processed, unprocessed) = got.split_at(8);
    let mut offsets = Offsets::default();
    for message in processed {
        offsets.advance(message);
    }
    // Per partition the committed set must be a prefix: keep only messages below the committed
    // offset of their partition as "processed".
    let committed: BTreeSet<Vec<u8>> = got
        .iter()
        .filter(|m| offsets.iter().any(|(t, p, o)| t == m.topic && p == m.partition && m.offset < o))
        .map(|m| m.payload.clone())
        .collect();
    first.commit(&offsets).await.map_err(|e| format!("commit failed: {e}"))?;
    drop(first);
    ensure!(!unprocessed.is_empty(), "test needs unprocessed messages");

    let expected: BTreeSet<Vec<u8>> = sent.difference(&committed).cloned().collect();
    let mut second = bus.subscribe(group, &[topic]).await.map_err(|e| e.to_string())?;
    let again = receive(second.as_mut(), expected.len()).await?;
    ensure!(
        payloads(&again) == expected,
        "redelivered {} messages, expected exactly the {} uncommitted ones",
        again.len(),
        expected.len()
    );
    receive_nothing(second.as_mut(), Duration::from_millis(500)).await?;
    let mut all = Offsets::default();
    for message in &again {
        all.advance(message);
    }
    second.commit(&all).await.map_err(|e| format!("commit failed: {e}"))?;
    drop(second);

    let mut third = bus.subscribe(group, &[topic]).await.map_err(|e| e.to_string())?;
    receive_nothing(third.as_mut(), Duration::from_secs(3)).await?;
    Ok(())
}

/// A table read sees the latest value of every key, and joins no group: a later subscription
/// still receives everything.
pub async fn reads_latest_value_per_key(bus: &dyn Bus, topic: &str) -> Result<(), String> {
    let publisher = bus.publisher();
    for (key, value) in [("a", "1"), ("b", "1"), ("a", "2"), ("c", "1"), ("b", "2"), ("a", "3")] {
        publisher.publish(topic, key.as_bytes(), value.as_bytes()).await.map_err(|e| format!("publish failed: {e}"))?;
    }
    let table = bus.read_table(topic).await.map_err(|e| format!("read_table failed: {e}"))?;
    let mut got: Vec<(String, String)> = table
        .into_iter()
        .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), String::from_utf8_lossy(&v).into_owned()))
        .collect();
    got.sort();
    let expected: Vec<(String, String)> =
        [("a", "3"), ("b", "2"), ("c", "1")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ensure!(got == expected, "table {got:?}, expected {expected:?}");
    let empty = bus
        .read_table(&format!("{topic}.never-written"))
        .await
        .map_err(|e| format!("read_table of an unknown topic failed: {e}"))?;
    ensure!(empty.is_empty(), "an unknown topic reads as an empty table");
    let mut subscriber = bus.subscribe("conformance-after-table", &[topic]).await.map_err(|e| e.to_string())?;
    receive(subscriber.as_mut(), 6).await?;
    Ok(())
}

/// A record larger than the bus takes is refused as `rejected` (not retryable, not fatal), and
/// the records around it go through. `oversized` must exceed the bus's limit (Kafka's default
/// `message.max.bytes` is 1 MiB); it is filled with bytes compression cannot shrink.
pub async fn refuses_an_oversized_record_and_goes_on(
    bus: &dyn Bus,
    topic: &str,
    oversized: usize,
) -> Result<(), String> {
    let publisher = bus.publisher();
    publisher.publish(topic, b"k", b"before").await.map_err(|e| format!("publish failed: {e}"))?;
    // An xorshift stream: incompressible, and no dependency on a random crate.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let big: Vec<u8> = (0..oversized)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    match publisher.publish(topic, b"k", &big).await {
        Ok(()) => return Err(format!("a record of {oversized} bytes was accepted")),
        Err(e) => ensure!(
            e.rejected && !e.retryable,
            "an oversized record failed as retryable={} rejected={}: {e}",
            e.retryable,
            e.rejected
        ),
    }
    publisher
        .publish(topic, b"k", b"after")
        .await
        .map_err(|e| format!("publish after the oversized record failed: {e}"))?;
    let mut subscriber = bus.subscribe("conformance-oversized", &[topic]).await.map_err(|e| e.to_string())?;
    let got = receive(subscriber.as_mut(), 2).await?;
    let got: Vec<&[u8]> = got.iter().map(|m| m.payload.as_slice()).collect();
    ensure!(got == [b"before".as_slice(), b"after".as_slice()], "received {got:?}");
    Ok(())
}

/// A subscription that idles takes nothing meanwhile, and afterwards receives exactly what was
/// published, once.
pub async fn idling_keeps_what_arrives(bus: &dyn Bus, topic: &str) -> Result<(), String> {
    let publisher = bus.publisher();
    publisher.publish(topic, b"k", b"first").await.map_err(|e| format!("publish failed: {e}"))?;
    let mut subscriber = bus.subscribe("conformance-idle", &[topic]).await.map_err(|e| e.to_string())?;
    receive(subscriber.as_mut(), 1).await?;
    for payload in ["second", "third"] {
        publisher.publish(topic, b"k", payload.as_bytes()).await.map_err(|e| format!("publish failed: {e}"))?;
    }
    subscriber.idle(Duration::from_secs(2)).await.map_err(|e| format!("idle failed: {e}"))?;
    let got = receive(subscriber.as_mut(), 2).await?;
    let got: Vec<&[u8]> = got.iter().map(|m| m.payload.as_slice()).collect();
    ensure!(got == [b"second".as_slice(), b"third".as_slice()], "after idling received {got:?}");
    receive_nothing(subscriber.as_mut(), Duration::from_millis(500)).await
}

/// Runs every check, each on its own fresh topic `{prefix}.{check}`.
pub async fn run_all(bus: &dyn Bus, topic_prefix: &str) -> Result<(), String> {
    delivers_everything_in_key_order(bus, &format!("{topic_prefix}.order"))
        .await
        .map_err(|e| format!("delivers_everything_in_key_order: {e}"))?;
    redelivers_uncommitted(bus, &format!("{topic_prefix}.redelivery"))
        .await
        .map_err(|e| format!("redelivers_uncommitted: {e}"))?;
    reads_latest_value_per_key(bus, &format!("{topic_prefix}.table"))
        .await
        .map_err(|e| format!("reads_latest_value_per_key: {e}"))?;
    idling_keeps_what_arrives(bus, &format!("{topic_prefix}.idle"))
        .await
        .map_err(|e| format!("idling_keeps_what_arrives: {e}"))?;
    refuses_an_oversized_record_and_goes_on(bus, &format!("{topic_prefix}.oversized"), 5 << 20)
        .await
        .map_err(|e| format!("refuses_an_oversized_record_and_goes_on: {e}"))?;
    Ok(())
}
