//! The word count of Kafka's `WordCountDemo`, on the streams library: lines in, each word's
//! running count out (key: the word as UTF-8; value: the count as an 8-byte big-endian signed
//! integer, as Kafka's `LongSerializer` writes it).

use tributary_streams::{
    Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder, StreamsError, Topology,
};

/// The words of `line`: lower-cased, split at anything that is not a letter or digit (Java's
/// `\W+` on the lower-cased line).
pub fn words(line: &str) -> Vec<String> {
    line.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The topology: `input` lines to `output` counts, the counts kept in the store `counts`.
pub fn topology(input: &str, output: &str) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        // lines may have no key, and a tombstone has no line
        .stream(
            input,
            Consumed::with(
                Serdes::nullable(Serdes::string()),
                Serdes::nullable(Serdes::string()),
            ),
        )
        .flat_map_values(|line: &Option<String>| line.as_deref().map(words).unwrap_or_default())
        .group_by(
            |_, word: &String| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count_with(Materialized::named("counts"))
        .to_stream()
        .to(
            output,
            Produced::with(Serdes::string(), Serdes::nullable(Serdes::long())),
        );
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_as_java_splits_on_non_word_characters() {
        assert_eq!(
            words("Hello, hello WORLD_1 -- ok"),
            vec!["hello", "hello", "world_1", "ok"]
        );
        assert!(words(" ,. ").is_empty());
    }
}
