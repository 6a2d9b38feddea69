//! Reading plugin and worker configs (string maps, as Kafka Connect's REST API and properties
//! files give them) with Kafka's `ConfigDef` parsing rules and `ConfigException` messages.

use std::collections::BTreeMap;

/// A config as it arrives: names to string values.
pub type Config = BTreeMap<String, String>;

/// A bad or missing config value (Kafka's `ConfigException`, same messages).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    /// Creates it with a message.
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError {
            message: message.into(),
        }
    }

    /// `Invalid value VALUE for configuration NAME: WHY`.
    pub fn invalid(name: &str, value: &str, why: &str) -> ConfigError {
        if why.is_empty() {
            ConfigError::new(format!("Invalid value {value} for configuration {name}"))
        } else {
            ConfigError::new(format!(
                "Invalid value {value} for configuration {name}: {why}"
            ))
        }
    }

    /// `Missing required configuration "NAME" which has no default value.`
    pub fn missing(name: &str) -> ConfigError {
        ConfigError::new(format!(
            "Missing required configuration \"{name}\" which has no default value."
        ))
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Typed reads of a [`Config`] with `ConfigDef`'s parsing (values trimmed).
pub trait ConfigExt {
    /// A string (trimmed, as `ConfigDef` trims), or the default.
    fn string_or(&self, name: &str, default: &str) -> String;
    /// A required string.
    fn string(&self, name: &str) -> Result<String, ConfigError>;
    /// A string that may be absent.
    fn string_opt(&self, name: &str) -> Option<String>;
    /// `true`/`false` in any case.
    fn bool_or(&self, name: &str, default: bool) -> Result<bool, ConfigError>;
    /// An `INT`, or the default.
    fn int_or(&self, name: &str, default: i32) -> Result<i32, ConfigError>;
    /// A `LONG`, or the default.
    fn long_or(&self, name: &str, default: i64) -> Result<i64, ConfigError>;
    /// A comma-separated list (entries trimmed, an empty value is an empty list).
    fn list_or(&self, name: &str, default: &[&str]) -> Vec<String>;
    /// One of `allowed` ignoring case, returned as written in `allowed`.
    fn choice_or(&self, name: &str, default: &str, allowed: &[&str])
        -> Result<String, ConfigError>;
}

impl ConfigExt for Config {
    fn string_or(&self, name: &str, default: &str) -> String {
        self.string_opt(name).unwrap_or_else(|| default.to_string())
    }

    fn string(&self, name: &str) -> Result<String, ConfigError> {
        self.string_opt(name)
            .ok_or_else(|| ConfigError::missing(name))
    }

    fn string_opt(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.trim().to_string())
    }

    fn bool_or(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim()) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ConfigError::invalid(
                name,
                v,
                "Expected value to be either true or false",
            )),
        }
    }

    fn int_or(&self, name: &str, default: i32) -> Result<i32, ConfigError> {
        match self.get(name).map(|v| v.trim()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::invalid(name, v, "Not a number of type INT")),
        }
    }

    fn long_or(&self, name: &str, default: i64) -> Result<i64, ConfigError> {
        match self.get(name).map(|v| v.trim()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::invalid(name, v, "Not a number of type LONG")),
        }
    }

    fn list_or(&self, name: &str, default: &[&str]) -> Vec<String> {
        match self.get(name).map(|v| v.trim()) {
            None => default.iter().map(|s| s.to_string()).collect(),
            Some("") => Vec::new(),
            Some(v) => v.split(',').map(|s| s.trim().to_string()).collect(),
        }
    }

    fn choice_or(
        &self,
        name: &str,
        default: &str,
        allowed: &[&str],
    ) -> Result<String, ConfigError> {
        let v = self.string_or(name, default);
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&v))
            .map(|a| a.to_string())
            .ok_or_else(|| {
                ConfigError::invalid(
                    name,
                    &v,
                    &format!(
                        "String must be one of (case insensitive): {}",
                        allowed.join(", ")
                    ),
                )
            })
    }
}

/// Parses Java properties text (what `worker.properties` and connector `.properties` files
/// hold): `key=value`, `key: value` or `key value`, `#`/`!` comments, lines continued with a
/// trailing backslash, and `\t \n \r \f \uXXXX` and `\x` escapes.
pub fn parse_properties(text: &str) -> Config {
    let mut out = Config::new();
    let mut logical = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if logical.is_empty()
            && (trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!'))
        {
            continue;
        }
        logical.push_str(trimmed);
        // an odd number of trailing backslashes continues the line
        let trailing = logical.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            logical.pop();
            if lines.clone().next().is_some() {
                continue;
            }
        }
        let (k, v) = split_property(&logical);
        out.insert(k, v);
        logical.clear();
    }
    out
}

fn split_property(line: &str) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut key_end = chars.len();
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '=' | ':' | ' ' | '\t' | '\u{c}' => {
                key_end = i;
                break;
            }
            _ => i += 1,
        }
    }
    let key: String = chars[..key_end.min(chars.len())].iter().collect();
    let mut j = key_end;
    while j < chars.len() && matches!(chars[j], ' ' | '\t' | '\u{c}') {
        j += 1;
    }
    if j < chars.len() && matches!(chars[j], '=' | ':') {
        j += 1;
    }
    while j < chars.len() && matches!(chars[j], ' ' | '\t' | '\u{c}') {
        j += 1;
    }
    let value: String = chars[j.min(chars.len())..].iter().collect();
    (unescape(&key), unescape(&value))
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_properties() {
        let p = parse_properties(
            "# comment\n! also\nname=local-file-source\nconnector.class : FileStreamSource\ntasks.max 1\n\
             file=/tmp/a\\\n    b.txt\nkey\\=with\\:colon=v\\u00e9\n  spaced = x  \nempty=\n",
        );
        assert_eq!(p["name"], "local-file-source");
        assert_eq!(p["connector.class"], "FileStreamSource");
        assert_eq!(p["tasks.max"], "1");
        assert_eq!(p["file"], "/tmp/ab.txt");
        assert_eq!(p["key=with:colon"], "vé");
        assert_eq!(p["spaced"], "x  ");
        assert_eq!(p["empty"], "");
    }
}
