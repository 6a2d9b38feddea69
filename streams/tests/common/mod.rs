//! What the differential tests share: running a Java harness of `tests/java/` on Kafka's jars.

/// Runs `streams/tests/java/<class>.java` with `input` (see `tributary_testkit::java`).
pub fn run_java_harness(class: &str, input: &str) -> Vec<String> {
    tributary_testkit::java::run_java_harness("streams/tests/java", class, input)
}
