//! Strings that match a regular expression, for `arg.properties.regex` (what Confluent's
//! generator does with the Generex library).
//!
//! The subset the quickstart schemas use and a little more: literals, `.`, escapes (`\d`,
//! `\w`, `\s`, `\.`, ...), character classes with ranges and negation (`[a-zA-Z ]`, `[^0-9]`),
//! groups (`(...)`, `(?:...)`) with alternation (`a|b`), and the quantifiers `?`, `*`, `+`,
//! `{n}`, `{n,}`, `{n,m}`. A repetition without an upper bound repeats at most
//! [`UNBOUNDED_EXTRA`] more times than its lower bound; `^` and `$` are accepted and ignored.
//! Each repetition count is uniform over its bounds, each alternative and class member equally
//! likely.

use super::rng::Rng;

/// How many repetitions past the lower bound `*`, `+` and `{n,}` may produce.
pub const UNBOUNDED_EXTRA: u32 = 8;

/// The characters `.` and a negated class draw from: printable ASCII.
const PRINTABLE: (char, char) = (' ', '~');

/// A parsed regular expression that generates matching strings.
#[derive(Clone, Debug, PartialEq)]
pub struct RegexGen {
    root: Node,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Literal(char),
    /// One of these characters.
    Class(Vec<char>),
    Seq(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, u32),
}

impl RegexGen {
    /// Parses `pattern`; the error says what is not supported and where.
    pub fn parse(pattern: &str) -> Result<RegexGen, String> {
        let mut p = Parser {
            chars: pattern.chars().collect(),
            pos: 0,
        };
        let root = p.alternation()?;
        if p.pos < p.chars.len() {
            return Err(format!(
                "unbalanced ')' at position {} in regex {pattern:?}",
                p.pos
            ));
        }
        Ok(RegexGen { root })
    }

    /// A random string that matches.
    pub fn generate(&self, rng: &mut Rng) -> String {
        let mut out = String::new();
        emit(&self.root, rng, &mut out);
        out
    }
}

fn emit(node: &Node, rng: &mut Rng, out: &mut String) {
    match node {
        Node::Literal(c) => out.push(*c),
        Node::Class(set) => {
            if !set.is_empty() {
                out.push(set[rng.index(set.len())]);
            }
        }
        Node::Seq(items) => items.iter().for_each(|n| emit(n, rng, out)),
        Node::Alt(options) => {
            if !options.is_empty() {
                emit(&options[rng.index(options.len())], rng, out);
            }
        }
        Node::Repeat(inner, min, max) => {
            let n = rng.between(i64::from(*min), i64::from(*max) + 1);
            for _ in 0..n {
                emit(inner, rng, out);
            }
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    fn error(&self, what: &str) -> String {
        let pattern: String = self.chars.iter().collect();
        format!("{what} at position {} in regex {pattern:?}", self.pos)
    }

    fn alternation(&mut self) -> Result<Node, String> {
        let mut options = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            options.push(self.sequence()?);
        }
        Ok(if options.len() == 1 {
            options.remove(0)
        } else {
            Node::Alt(options)
        })
    }

    fn sequence(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = match self.atom()? {
                Some(a) => a,
                None => continue,
            };
            items.push(self.quantified(atom)?);
        }
        Ok(Node::Seq(items))
    }

    /// One atom; `None` for an anchor, which generates nothing.
    fn atom(&mut self) -> Result<Option<Node>, String> {
        let Some(c) = self.next() else {
            return Err(self.error("an unexpected end"));
        };
        Ok(Some(match c {
            '^' | '$' => return Ok(None),
            '.' => Node::Class(span(PRINTABLE.0, PRINTABLE.1)),
            '[' => self.class()?,
            '(' => {
                if self.peek() == Some('?') {
                    self.pos += 1;
                    if self.next() != Some(':') {
                        return Err(self.error("only (?:...) groups are supported"));
                    }
                }
                let inner = self.alternation()?;
                if self.next() != Some(')') {
                    return Err(self.error("a missing ')'"));
                }
                inner
            }
            '\\' => self.escape()?,
            '*' | '+' | '?' | '{' => return Err(self.error("a quantifier without an atom")),
            c => Node::Literal(c),
        }))
    }

    fn escape(&mut self) -> Result<Node, String> {
        let Some(c) = self.next() else {
            return Err(self.error("a trailing backslash"));
        };
        Ok(match class_escape(c) {
            Some(set) => Node::Class(set),
            None => Node::Literal(self.literal_escape(c)?),
        })
    }

    fn literal_escape(&self, c: char) -> Result<char, String> {
        match c {
            't' => Ok('\t'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            'f' => Ok('\u{c}'),
            c if c.is_ascii_alphanumeric() => Err(self.error(&format!("unsupported escape \\{c}"))),
            c => Ok(c),
        }
    }

    fn class(&mut self) -> Result<Node, String> {
        let negated = self.peek() == Some('^');
        self.pos += usize::from(negated);
        let mut set: Vec<char> = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.next() else {
                return Err(self.error("a missing ']'"));
            };
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = if c == '\\' {
                let Some(e) = self.next() else {
                    return Err(self.error("a trailing backslash"));
                };
                if let Some(more) = class_escape(e) {
                    set.extend(more);
                    continue;
                }
                self.literal_escape(e)?
            } else {
                c
            };
            // a range a-z (a '-' before ']' is a literal)
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                let hi = match self.next() {
                    Some('\\') => {
                        let e = self
                            .next()
                            .ok_or_else(|| self.error("a trailing backslash"))?;
                        self.literal_escape(e)?
                    }
                    Some(h) => h,
                    None => return Err(self.error("a missing ']'")),
                };
                if hi < lo {
                    return Err(self.error(&format!("a reversed range {lo}-{hi}")));
                }
                set.extend(span(lo, hi));
            } else {
                set.push(lo);
            }
        }
        set.sort_unstable();
        set.dedup();
        if negated {
            set = span(PRINTABLE.0, PRINTABLE.1)
                .into_iter()
                .filter(|c| set.binary_search(c).is_err())
                .collect();
        }
        if set.is_empty() {
            return Err(self.error("a class that matches nothing"));
        }
        Ok(Node::Class(set))
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some('?') => (0, 1),
            Some('*') => (0, UNBOUNDED_EXTRA),
            Some('+') => (1, 1 + UNBOUNDED_EXTRA),
            Some('{') => return self.braces(atom),
            _ => return Ok(atom),
        };
        self.pos += 1;
        self.lazy_or_possessive();
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    fn lazy_or_possessive(&mut self) {
        if matches!(self.peek(), Some('?') | Some('+')) {
            self.pos += 1;
        }
    }

    fn braces(&mut self, atom: Node) -> Result<Node, String> {
        self.pos += 1;
        let min = self.number()?;
        let max = match self.next() {
            Some('}') => min,
            Some(',') if self.peek() == Some('}') => {
                self.pos += 1;
                min.saturating_add(UNBOUNDED_EXTRA)
            }
            Some(',') => {
                let max = self.number()?;
                if self.next() != Some('}') {
                    return Err(self.error("a missing '}'"));
                }
                max
            }
            _ => return Err(self.error("a malformed {n,m} repetition")),
        };
        if max < min {
            return Err(self.error("a repetition whose maximum is below its minimum"));
        }
        self.lazy_or_possessive();
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    fn number(&mut self) -> Result<u32, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits
            .parse()
            .map_err(|_| self.error("a missing repetition count"))
    }
}

/// The set of a class escape (`\d`, `\w`, `\s` and their negations), if `c` is one.
fn class_escape(c: char) -> Option<Vec<char>> {
    let digits = span('0', '9');
    let mut word = span('a', 'z');
    word.extend(span('A', 'Z'));
    word.extend(span('0', '9'));
    word.push('_');
    let space = vec![' ', '\t', '\n', '\r', '\u{b}', '\u{c}'];
    let not = |set: Vec<char>| -> Vec<char> {
        span(PRINTABLE.0, PRINTABLE.1)
            .into_iter()
            .filter(|c| !set.contains(c))
            .collect()
    };
    Some(match c {
        'd' => digits,
        'w' => word,
        's' => space,
        'D' => not(digits),
        'W' => not(word),
        'S' => not(space),
        _ => return None,
    })
}

fn span(lo: char, hi: char) -> Vec<char> {
    (lo..=hi).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many strings of `pattern`, each checked against the real regex engine.
    fn samples(pattern: &str) -> Vec<String> {
        let gen = RegexGen::parse(pattern).expect("the pattern parses");
        let check = ::regex::Regex::new(&format!("^(?:{pattern})$")).expect("a valid regex");
        let mut rng = Rng::new(1);
        (0..2000)
            .map(|_| {
                let s = gen.generate(&mut rng);
                assert!(check.is_match(&s), "{s:?} does not match {pattern}");
                s
            })
            .collect()
    }

    fn distinct(v: &[String]) -> std::collections::BTreeSet<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn a_class_after_a_literal_covers_the_whole_class() {
        let users = samples("User_[1-9]");
        let expected: std::collections::BTreeSet<String> =
            (1..=9).map(|i| format!("User_{i}")).collect();
        assert_eq!(
            distinct(&users),
            expected.iter().map(String::as_str).collect()
        );
        let pages = samples("Page_[1-9][0-9]");
        assert!(pages.iter().all(|p| p.len() == 7));
        assert!(distinct(&pages).len() > 80, "10..99 all reachable");
    }

    #[test]
    fn bounded_repetitions_produce_every_length() {
        for pattern in ["User_[1-9]{0,1}", "City_[1-9]{0,2}", "Item_[1-9][0-9]{0,2}"] {
            let prefix_len = pattern.find('[').unwrap_or(0);
            let lens: std::collections::BTreeSet<usize> = samples(pattern)
                .iter()
                .map(|s| s.len() - prefix_len)
                .collect();
            let want: std::collections::BTreeSet<usize> = match pattern {
                "User_[1-9]{0,1}" => [0, 1].into(),
                "City_[1-9]{0,2}" => [0, 1, 2].into(),
                _ => [1, 2, 3].into(),
            };
            assert_eq!(lens, want, "{pattern}");
        }
        assert!(samples("[a-z]{5}").iter().all(|s| s.len() == 5));
        let lens: std::collections::BTreeSet<usize> =
            samples("[A-Z]{5,8}").iter().map(String::len).collect();
        assert_eq!(lens, [5, 6, 7, 8].into());
        assert!(samples("[1-9]{1}[0-9]{6}").iter().all(|s| s.len() == 7));
    }

    #[test]
    fn alternation_groups_and_escapes() {
        let v = samples("(GET|POST|PUT) /(api|v[12])/x");
        assert!(distinct(&v).len() == 9, "{:?}", distinct(&v));
        samples(r"[A-Z]{2}\d{6}[A-Z]");
        samples(r"\[[0-9][0-9],[0-9][0-9]\]");
        samples(r"lab-\d{1}");
        samples("https://www[.]acme[.]com/product/[a-z]{5}");
        samples("[a-z ]{10,15}");
        samples("[a-zA-Z]{5,8}");
        samples(r"^(?:\w+@[^@\s]{3}\.com)?$");
        samples("a.b*c+d?");
        assert_eq!(samples("x|y|").len(), 2000);
        let v = samples("[-a]{3}");
        assert!(v.iter().any(|s| s.contains('-')));
    }

    #[test]
    fn unsupported_or_broken_patterns_say_where() {
        for bad in [
            "(abc", "abc)", "[abc", "a{2,1}", "*a", r"\p{L}", "(?=x)", "[z-a]",
        ] {
            let e = RegexGen::parse(bad).expect_err(bad);
            assert!(e.contains("position"), "{bad}: {e}");
        }
    }
}
