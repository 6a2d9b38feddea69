//! PostgreSQL's SQL spelling: quoted identifiers (`"Name"`, `""` for a quote inside) and table
//! ids (`schema.table`), as Confluent's `PostgreSqlDatabaseDialect` writes them with
//! `quote.sql.identifiers=always`.

use std::fmt;

/// An identifier in double quotes, kept exactly as written (case and all).
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A table: its schema (none: the connection's current schema) and its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    /// The schema, if named.
    pub schema: Option<String>,
    /// The table's name.
    pub table: String,
}

impl TableId {
    /// A table in a schema.
    pub fn new(schema: Option<&str>, table: &str) -> TableId {
        TableId {
            schema: schema.map(str::to_string),
            table: table.to_string(),
        }
    }

    /// Parses `table`, `schema.table` or `catalog.schema.table` (the catalog is dropped, as
    /// PostgreSQL's dialect does); parts may be double-quoted and then hold dots.
    pub fn parse(fqn: &str) -> TableId {
        let mut parts: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut quoted = false;
        let mut chars = fqn.trim().chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    chars.next();
                    current.push('"');
                }
                '"' => quoted = !quoted,
                '.' if !quoted => parts.push(std::mem::take(&mut current)),
                _ => current.push(c),
            }
        }
        parts.push(current);
        let table = parts.pop().unwrap_or_default();
        let schema = parts.pop().filter(|s| !s.is_empty());
        TableId { schema, table }
    }

    /// `"schema"."table"` (or `"table"`).
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.table)),
            None => quote(&self.table),
        }
    }

    /// `schema.table` (or `table`): what Confluent's offsets and messages show.
    pub fn unquoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.table),
            None => self.table.clone(),
        }
    }
}

/// `"schema"."table"`, as the SQL uses it.
impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted())
    }
}

/// `"a","b","c"`.
pub fn quote_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().map(quote).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("Order Items"), "\"Order Items\"");
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_list(["a", "B"]), "\"a\",\"B\"");
    }

    #[test]
    fn table_ids_parse_and_print() {
        let t = TableId::parse("users");
        assert_eq!(t, TableId::new(None, "users"));
        assert_eq!(t.quoted(), "\"users\"");
        let t = TableId::parse("public.users");
        assert_eq!(t.quoted(), "\"public\".\"users\"");
        assert_eq!(t.unquoted(), "public.users");
        let t = TableId::parse("shop.\"Sales\".\"a.b\"");
        assert_eq!(t, TableId::new(Some("Sales"), "a.b"));
        assert_eq!(t.quoted(), "\"Sales\".\"a.b\"");
        assert_eq!(TableId::parse("\"x\"\"y\"").table, "x\"y");
    }
}
