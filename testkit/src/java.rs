//! Java oracles: harnesses in the tests' `java/` folders, compiled and run on Apache Kafka's
//! own jars (resolved by `scripts/kafka-jars.sh`), fed cases on stdin.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compiles `<dir>/<class>.java` (`dir` relative to the workspace root) against Kafka's jars,
/// runs it with `input` on its standard input and returns its output split at the lines
/// `<<END>>` (one part per case).
pub fn run_java_harness(dir: &str, class: &str, input: &str) -> Vec<String> {
    let jars = Command::new("bash")
        .arg(root().join("scripts/kafka-jars.sh"))
        .output()
        .expect("bash runs");
    assert!(
        jars.status.success(),
        "scripts/kafka-jars.sh failed (Java 17 and Maven are needed): {}",
        String::from_utf8_lossy(&jars.stderr)
    );
    let cp_file = String::from_utf8(jars.stdout).expect("a path");
    let classpath = std::fs::read_to_string(cp_file.trim()).expect("the classpath file");
    let classes = tempfile::tempdir().expect("a temp dir");
    let javac = Command::new("javac")
        .arg("-d")
        .arg(classes.path())
        .arg("-cp")
        .arg(classpath.trim())
        .arg(root().join(dir).join(format!("{class}.java")))
        .output()
        .expect("javac runs");
    assert!(
        javac.status.success(),
        "{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    // (the input goes in from a file: a pipe both ways could fill up in both directions)
    let input_file = classes.path().join("input.txt");
    std::fs::write(&input_file, input).expect("the input file is written");
    // Kafka's logs go to stderr (kafka-jars.sh writes that log4j2 configuration)
    let log_config = Path::new(cp_file.trim()).with_file_name("log4j2.yaml");
    let out = Command::new("java")
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            log_config.display()
        ))
        .arg("-cp")
        .arg(format!("{}:{}", classpath.trim(), classes.path().display()))
        .arg(class)
        .stdin(std::fs::File::open(&input_file).expect("the input file"))
        .stderr(Stdio::null())
        .output()
        .expect("java runs");
    assert!(out.status.success(), "the Java harness {class} failed");
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let mut parts: Vec<String> = text.split("<<END>>\n").map(str::to_string).collect();
    // (what follows the last case's end marker)
    parts.pop();
    parts
}
