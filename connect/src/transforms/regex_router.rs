//! `RegexRouter`: renames the topic when it matches `regex` entirely, to `replacement` (with
//! Java's `$1` / `${name}` group references).

use regex::{Captures, Regex};

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::DataError;
use crate::record::ConnectRecord;

use super::Transformation;

/// Kafka's RegexRouter.
pub struct RegexRouter {
    regex: Regex,
    replacement: String,
}

/// Compiles a Java regular expression that must match a whole string (`Matcher.matches`).
pub(crate) fn whole_match_regex(name: &str, pattern: &str) -> Result<Regex, ConfigError> {
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| ConfigError::invalid(name, pattern, &format!("Invalid regex: {e}")))
}

impl RegexRouter {
    pub(crate) fn configure(config: &Config) -> Result<RegexRouter, ConfigError> {
        let pattern = config.string("regex")?;
        let regex = whole_match_regex("regex", &pattern)?;
        let replacement = config.string("replacement")?;
        Ok(RegexRouter { regex, replacement })
    }
}

/// Java's `Matcher.appendReplacement` text: `$n` (as many digits as name a group), `${name}`,
/// and `\x` for a literal `x`.
pub(crate) fn java_replacement(
    caps: &Captures<'_>,
    replacement: &str,
) -> Result<String, DataError> {
    let chars: Vec<char> = replacement.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let illegal = |m: &str| DataError::new(m.to_string()).with_class("IllegalArgumentException");
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                i += 1;
                let c = chars
                    .get(i)
                    .ok_or_else(|| illegal("character to be escaped is missing"))?;
                out.push(*c);
                i += 1;
            }
            '$' => {
                i += 1;
                match chars.get(i) {
                    None => return Err(illegal("Illegal group reference: group index is missing")),
                    Some('{') => {
                        let end = chars[i..].iter().position(|c| *c == '}').ok_or_else(|| {
                            illegal("named capturing group is missing trailing '}'")
                        })?;
                        let name: String = chars[i + 1..i + end].iter().collect();
                        let m = caps
                            .name(&name)
                            .ok_or_else(|| illegal(&format!("No group with name {{{name}}}")))?;
                        out.push_str(m.as_str());
                        i += end + 1;
                    }
                    Some(c) if c.is_ascii_digit() => {
                        let mut group = c.to_digit(10).unwrap_or(0) as usize;
                        if group >= caps.len() {
                            return Err(DataError::new(format!("No group {group}"))
                                .with_class("IndexOutOfBoundsException"));
                        }
                        i += 1;
                        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                            let next = group * 10 + d as usize;
                            if next >= caps.len() {
                                break;
                            }
                            group = next;
                            i += 1;
                        }
                        out.push_str(caps.get(group).map_or("", |m| m.as_str()));
                    }
                    Some(_) => return Err(illegal("Illegal group reference")),
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

impl Transformation for RegexRouter {
    fn apply(&mut self, mut r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        if let Some(caps) = self.regex.captures(&r.topic) {
            r.topic = java_replacement(&caps, &self.replacement)?;
        }
        Ok(Some(r))
    }
}
