//! The deployment's topics, all named from one prefix (`--topic-prefix`): the prefix is
//! checked once, against the longest name it makes, before anything is opened.

use ledger::limits::TOPIC_NAME_BYTES_MAX;

/// What follows the prefix in each of the deployment's topic names.
pub const TOPIC_SUFFIXES: [&str; 5] =
    [".directory", ".events", ".checkpoints", ".inbox", ".dead-letter"];
/// The longest prefix whose every topic name the log takes.
pub const TOPIC_PREFIX_BYTES_MAX: usize = TOPIC_NAME_BYTES_MAX - longest(&TOPIC_SUFFIXES);

const fn longest(names: &[&str]) -> usize {
    let (mut i, mut max) = (0, 0);
    while i < names.len() {
        if names[i].len() > max {
            max = names[i].len();
        }
        i += 1;
    }
    max
}

const _: () = assert!(TOPIC_PREFIX_BYTES_MAX > 0);

/// The topic names of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub directory: String,
    pub events: String,
    pub checkpoints: String,
    /// Issuers' pushes produced straight to Kafka (transient), and what was refused from it.
    pub inbox: String,
    pub dead_letter: String,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "topic prefix {prefix:?}: 1 to {TOPIC_PREFIX_BYTES_MAX} letters, digits, '.', '_' or '-' \
     (the longest topic, <prefix>.dead-letter, must fit the log's {TOPIC_NAME_BYTES_MAX} bytes)"
)]
pub struct TopicPrefixError {
    prefix: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Result<Topics, TopicPrefixError> {
        let valid = !prefix.is_empty()
            && prefix.len() <= TOPIC_PREFIX_BYTES_MAX
            && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(TopicPrefixError { prefix: prefix.chars().take(64).collect() });
        }
        let [directory, events, checkpoints, inbox, dead_letter] =
            TOPIC_SUFFIXES.map(|suffix| format!("{prefix}{suffix}"));
        Ok(Topics { directory, events, checkpoints, inbox, dead_letter })
    }

    pub fn all(&self) -> [&str; 5] {
        [&self.directory, &self.events, &self.checkpoints, &self.inbox, &self.dead_letter]
    }
}

#[cfg(test)]
mod tests {
    use ledger::Log;

    use super::*;

    /// Every name the longest allowed prefix makes is one the log itself takes; one byte more
    /// is refused before anything is opened (it used to pass, and `.checkpoints` failed later).
    #[tokio::test]
    async fn the_longest_prefix_makes_names_the_log_takes_and_one_more_byte_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = ledger::EmbeddedLog::open(dir.path().join("log")).expect("log");
        let longest = "p".repeat(TOPIC_PREFIX_BYTES_MAX);
        let topics = Topics::new(&longest).expect("the longest prefix");
        for name in topics.all() {
            log.create_topic(name, 1).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for refused in ["p".repeat(TOPIC_PREFIX_BYTES_MAX + 1), String::new(), "a b".into()] {
            assert!(Topics::new(&refused).is_err(), "{refused:?}");
        }
        assert_eq!(Topics::new("locker").expect("default").checkpoints, "locker.checkpoints");
    }
}
