//! What the events tests share.

use std::time::Duration;

use events::relay;

/// A relay of the test stream `platform-test` (`platform.test.>`) at `url`,
/// quick to notice new rows and lost leases.
pub fn relay_config(url: &str, replicas: usize) -> relay::Config {
    relay::Config {
        nats_url: url.to_owned(),
        stream: "platform-test".into(),
        subjects: vec!["platform.test.>".into()],
        batch: 100,
        poll: Duration::from_millis(100),
        lease: Duration::from_secs(2),
        ack_timeout: Duration::from_secs(2),
        retention: Duration::from_secs(3600),
        max_age: Duration::from_secs(3600),
        duplicate_window: Duration::from_secs(120),
        replicas,
    }
}
