//! `connection.url`: the PostgreSQL JDBC driver's URL forms, and libpq's, turned into a
//! `tokio_postgres::Config`.
//!
//! ```text
//!  jdbc:postgresql://host[:port][,host2[:port2]]/database?user=u&password=p&ApplicationName=x
//!  jdbc:postgresql://host/database        jdbc:postgresql:database (localhost:5432)
//!  postgresql://[user[:password]@]host[:port]/database?params      postgres://...
//! ```
//!
//! Any other `jdbc:<subprotocol>:` URL is a config error that names the database it is for:
//! only PostgreSQL is supported. As in the PostgreSQL JDBC driver, `user` and `password` in the
//! URL win over `connection.user` and `connection.password`.

use std::time::Duration;

use tributary_connect::config::ConfigError;

/// The config key this parses.
pub(crate) const URL_KEY: &str = "connection.url";

/// A parsed connection URL.
#[derive(Clone, Debug)]
pub struct PgUrl {
    /// What `tokio_postgres` connects with (user and password included).
    pub config: tokio_postgres::Config,
    /// The database name (`postgres`'s default: the user's name).
    pub database: String,
}

fn bad(url: &str, why: &str) -> ConfigError {
    ConfigError::invalid(URL_KEY, &redact(url), why)
}

/// The URL without its password (for messages and logs).
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    // password=... in the query
    if let Some(i) = out.find("password=") {
        let end = out[i..].find('&').map_or(out.len(), |e| i + e);
        out.replace_range(i + "password=".len()..end, "****");
    }
    // user:password@ in libpq URLs
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |e| rest_start + e);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let at = rest_start + at;
            if let Some(colon) = out[rest_start..at].find(':') {
                out.replace_range(rest_start + colon + 1..at, "****");
            }
        }
    }
    out
}

/// `%XX` decoding (`+` stays a plus, as in URIs).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl PgUrl {
    /// Parses `url`, with `user` and `password` from `connection.user` / `connection.password`
    /// unless the URL names them.
    pub fn parse(
        url: &str,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<PgUrl, ConfigError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(ConfigError::missing(URL_KEY));
        }
        let (rest, libpq) = if let Some(r) = url.strip_prefix("jdbc:postgresql:") {
            (r, false)
        } else if let Some(r) = url
            .strip_prefix("postgresql:")
            .or_else(|| url.strip_prefix("postgres:"))
        {
            (r, true)
        } else if let Some(other) = url.strip_prefix("jdbc:") {
            let db = other.split(':').next().unwrap_or(other);
            return Err(bad(
                url,
                &format!(
                    "this is a '{db}' JDBC URL; only PostgreSQL is supported (jdbc:postgresql://host:port/database)"
                ),
            ));
        } else {
            return Err(bad(
                url,
                "expected a PostgreSQL URL: jdbc:postgresql://host:port/database or postgresql://host:port/database",
            ));
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, q),
            None => (rest, ""),
        };
        let mut config = tokio_postgres::Config::new();
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        let mut url_user: Option<String> = None;
        let mut url_password: Option<String> = None;
        let (hosts, database) = if let Some(after) = before_query.strip_prefix("//") {
            let (authority, path) = match after.find('/') {
                Some(i) => (&after[..i], &after[i + 1..]),
                None => (after, ""),
            };
            let hosts = if libpq {
                match authority.rsplit_once('@') {
                    Some((creds, hosts)) => {
                        match creds.split_once(':') {
                            Some((u, p)) => {
                                url_user = Some(percent_decode(u));
                                url_password = Some(percent_decode(p));
                            }
                            None => url_user = Some(percent_decode(creds)),
                        }
                        hosts
                    }
                    None => authority,
                }
            } else {
                authority
            };
            (hosts, percent_decode(path))
        } else if libpq {
            return Err(bad(url, "expected //host after the scheme"));
        } else {
            // jdbc:postgresql:database
            ("", percent_decode(before_query))
        };
        let hosts = if hosts.is_empty() { "localhost" } else { hosts };
        for host in hosts.split(',') {
            let (name, port) = split_host_port(host)
                .ok_or_else(|| bad(url, &format!("'{host}' is not a host or host:port")))?;
            config.host(&name);
            config.port(port);
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "user" => url_user = Some(v),
                "password" => url_password = Some(v),
                "ApplicationName" | "application_name" => {
                    config.application_name(v);
                }
                "connectTimeout" | "connect_timeout" => {
                    let secs: u64 = v.parse().map_err(|_| {
                        bad(url, &format!("{k}={v} is not a number of seconds"))
                    })?;
                    if secs > 0 {
                        config.connect_timeout(Duration::from_secs(secs));
                    }
                }
                "currentSchema" => {
                    config.options(format!("-c search_path={v}"));
                }
                "options" => {
                    config.options(v);
                }
                "sslmode" | "ssl" => match v.as_str() {
                    "disable" | "allow" | "prefer" | "false" => {}
                    _ => {
                        return Err(bad(
                            url,
                            "TLS connections are not supported yet: use sslmode=disable or leave it out",
                        ))
                    }
                },
                // settings of the Java driver that have no meaning here are accepted and ignored
                _ => tracing::debug!(parameter = k, "connection URL parameter ignored"),
            }
        }
        let user = url_user
            .or_else(|| user.filter(|u| !u.is_empty()).map(str::to_string))
            .unwrap_or_else(|| "postgres".to_string());
        config.user(&user);
        if let Some(p) = url_password.or_else(|| password.map(str::to_string)) {
            config.password(p);
        }
        let database = if database.is_empty() { user } else { database };
        config.dbname(&database);
        Ok(PgUrl { config, database })
    }
}

/// `host`, `host:port`, `[::1]:port`.
fn split_host_port(s: &str) -> Option<(String, u16)> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 5432,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((s.to_string(), 5432)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::Host;

    fn hosts(u: &PgUrl) -> Vec<(String, u16)> {
        u.config
            .get_hosts()
            .iter()
            .zip(u.config.get_ports())
            .map(|(h, p)| match h {
                Host::Tcp(h) => (h.clone(), *p),
                Host::Unix(p2) => (p2.display().to_string(), *p),
            })
            .collect()
    }

    #[test]
    fn jdbc_urls() {
        let u = PgUrl::parse(
            "jdbc:postgresql://db.example:6543/shop?user=alice&password=s%40cret&ApplicationName=x",
            Some("ignored"),
            Some("ignored"),
        )
        .unwrap();
        assert_eq!(hosts(&u), [("db.example".to_string(), 6543)]);
        assert_eq!(u.database, "shop");
        assert_eq!(u.config.get_user(), Some("alice"));
        assert_eq!(u.config.get_password(), Some(&b"s@cret"[..]));
        assert_eq!(u.config.get_application_name(), Some("x"));

        let u = PgUrl::parse("jdbc:postgresql://h1,h2:5433/db", Some("bob"), Some("pw")).unwrap();
        assert_eq!(
            hosts(&u),
            [("h1".to_string(), 5432), ("h2".to_string(), 5433)]
        );
        assert_eq!(u.config.get_user(), Some("bob"));
        assert_eq!(u.config.get_password(), Some(&b"pw"[..]));

        let u = PgUrl::parse("jdbc:postgresql:mydb", None, None).unwrap();
        assert_eq!(hosts(&u), [("localhost".to_string(), 5432)]);
        assert_eq!(u.database, "mydb");
        assert_eq!(u.config.get_user(), Some("postgres"));

        let u = PgUrl::parse("jdbc:postgresql://[::1]:7000/", Some("carol"), None).unwrap();
        assert_eq!(hosts(&u), [("::1".to_string(), 7000)]);
        assert_eq!(u.database, "carol");
    }

    #[test]
    fn libpq_urls() {
        let u = PgUrl::parse(
            "postgresql://u:p%2Fw@127.0.0.1:5000/app?sslmode=disable",
            None,
            None,
        )
        .unwrap();
        assert_eq!(hosts(&u), [("127.0.0.1".to_string(), 5000)]);
        assert_eq!(u.config.get_user(), Some("u"));
        assert_eq!(u.config.get_password(), Some(&b"p/w"[..]));
        assert_eq!(u.database, "app");
        let u = PgUrl::parse("postgres://localhost/app", Some("x"), None).unwrap();
        assert_eq!(u.config.get_user(), Some("x"));
    }

    #[test]
    fn other_databases_and_bad_urls_are_config_errors() {
        let e = PgUrl::parse("jdbc:mysql://localhost:3306/db", None, None).unwrap_err();
        assert!(e.message().contains("'mysql'"), "{e}");
        assert!(e.message().contains("only PostgreSQL is supported"), "{e}");
        assert!(e.message().starts_with(
            "Invalid value jdbc:mysql://localhost:3306/db for configuration connection.url"
        ));
        assert!(PgUrl::parse("http://x", None, None).is_err());
        assert!(PgUrl::parse("", None, None).is_err());
        assert!(PgUrl::parse("jdbc:postgresql://h:notaport/db", None, None).is_err());
        let e = PgUrl::parse(
            "jdbc:postgresql://h/db?sslmode=require&password=top",
            None,
            None,
        )
        .unwrap_err();
        assert!(e.message().contains("TLS"), "{e}");
        assert!(
            !e.message().contains("top"),
            "the password is not shown: {e}"
        );
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact("jdbc:postgresql://h/db?user=a&password=b&x=1"),
            "jdbc:postgresql://h/db?user=a&password=****&x=1"
        );
        assert_eq!(
            redact("postgresql://u:secret@h/db"),
            "postgresql://u:****@h/db"
        );
    }
}
