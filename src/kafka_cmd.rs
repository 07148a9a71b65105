//! `otklik kafka init`: creates the DESIGN topics of the config that are missing and checks the
//! ones that exist (partitions, compaction, configured topic settings).

use crate::config::Config;
use anyhow::{bail, Context, Result};
use otklik_kafka::KafkaBus;

pub fn init(config: &Config) -> Result<()> {
    let kafka = config.kafka.clone().context("no [kafka] table with brokers (or OTKLIK_KAFKA_BROKERS)")?;
    let specs = kafka.topics.specs();
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    let checks = runtime.block_on(async {
        let bus = KafkaBus::new(kafka).context("cannot create the Kafka client")?;
        bus.init_topics(&specs).await.context("cannot create or check the topics")
    })?;
    let mut differing = 0;
    for check in &checks {
        match (check.created, check.problems.as_slice()) {
            (true, _) => println!("created  {}", check.name),
            (false, []) => println!("ok       {}", check.name),
            (false, problems) => {
                differing += 1;
                for problem in problems {
                    println!("DIFFERS  {}: {problem}", check.name);
                }
            }
        }
    }
    if differing > 0 {
        bail!("{differing} topic(s) differ from the config; change them by hand (Kafka never shrinks a topic or rewrites its data)");
    }
    Ok(())
}
