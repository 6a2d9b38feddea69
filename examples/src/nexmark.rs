//! The Nexmark benchmark for KSQL: the `nexmark` crate's auction events (persons, auctions,
//! bids) written to three topics as JSON, and Nexmark's queries written in KSQL over them.
//! `examples/nexmark.rs` generates the events and runs each query as a persistent query on a
//! KSQL server; `scripts/bench-nexmark.sh` runs it all.

use nexmark::event::Event;

/// The topics of one generated event stream: `<prefix>-person`, `-auction`, `-bid`.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Persons, keyed by their id.
    pub person: String,
    /// Auctions, keyed by their id.
    pub auction: String,
    /// Bids, keyed by their auction's id.
    pub bid: String,
}

impl Topics {
    /// The topics named after `prefix`.
    pub fn new(prefix: &str) -> Topics {
        Topics {
            person: format!("{prefix}-person"),
            auction: format!("{prefix}-auction"),
            bid: format!("{prefix}-bid"),
        }
    }

    /// The three, persons first.
    pub fn all(&self) -> [&str; 3] {
        [&self.person, &self.auction, &self.bid]
    }
}

/// One event as a record: the topic it goes to (0 person, 1 auction, 2 bid), its key (the
/// id, as Kafka's 8-byte big-endian long) and its JSON value.
pub fn record(event: &Event) -> Result<(usize, [u8; 8], Vec<u8>), serde_json::Error> {
    Ok(match event {
        Event::Person(p) => (0, key(p.id), serde_json::to_vec(p)?),
        Event::Auction(a) => (1, key(a.id), serde_json::to_vec(a)?),
        Event::Bid(b) => (2, key(b.auction), serde_json::to_vec(b)?),
    })
}

fn key(id: usize) -> [u8; 8] {
    (id as i64).to_be_bytes()
}

/// The statements declaring the event streams (and the persons as a table, for the joins
/// that look a seller up) over `topics`; event time is each event's `date_time`.
pub fn sources(topics: &Topics) -> String {
    let with = |topic: &str| {
        format!("WITH (kafka_topic='{topic}', value_format='JSON', timestamp='DATE_TIME')")
    };
    format!(
        "CREATE STREAM PERSON (ID BIGINT KEY, NAME STRING, EMAIL_ADDRESS STRING, CREDIT_CARD STRING, CITY STRING, STATE STRING, DATE_TIME BIGINT, EXTRA STRING) {p};
         CREATE TABLE PERSON_T (ID BIGINT PRIMARY KEY, NAME STRING, EMAIL_ADDRESS STRING, CREDIT_CARD STRING, CITY STRING, STATE STRING, DATE_TIME BIGINT, EXTRA STRING) {p};
         CREATE STREAM AUCTION (ID BIGINT KEY, ITEM_NAME STRING, DESCRIPTION STRING, INITIAL_BID BIGINT, RESERVE BIGINT, DATE_TIME BIGINT, EXPIRES BIGINT, SELLER BIGINT, CATEGORY BIGINT, EXTRA STRING) {a};
         CREATE STREAM BID (AUCTION BIGINT KEY, BIDDER BIGINT, PRICE BIGINT, CHANNEL STRING, URL STRING, DATE_TIME BIGINT, EXTRA STRING) {b};",
        p = with(&topics.person),
        a = with(&topics.auction),
        b = with(&topics.bid),
    )
}

/// A Nexmark query in KSQL.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    /// Its name (`q0` ...).
    pub name: &'static str,
    /// What it computes.
    pub about: &'static str,
    /// Which event streams it reads: person, auction, bid.
    pub reads: [bool; 3],
    /// Its persistent queries, in order (a later one may read an earlier one's output).
    pub statements: &'static [&'static str],
    /// The sinks it creates, to drop after the run.
    pub sinks: &'static [&'static str],
}

/// Nexmark's queries q0, q1, q2, q3, q4, q5, q7 and q8, as close as KSQL expresses them
/// (BENCHMARKS.md says where they differ from Nexmark's definitions).
pub const QUERIES: &[Query] = &[
    Query {
        name: "q0",
        about: "pass-through: every bid",
        reads: [false, false, true],
        statements: &["CREATE STREAM NQ0 AS SELECT AUCTION, BIDDER, PRICE, DATE_TIME, EXTRA FROM BID;"],
        sinks: &["NQ0"],
    },
    Query {
        name: "q1",
        about: "currency conversion: bids' prices in euros",
        reads: [false, false, true],
        statements: &["CREATE STREAM NQ1 AS SELECT AUCTION, BIDDER, 0.908 * PRICE AS PRICE, DATE_TIME, EXTRA FROM BID;"],
        sinks: &["NQ1"],
    },
    Query {
        name: "q2",
        about: "selection: the bids of every 123rd auction",
        reads: [false, false, true],
        statements: &["CREATE STREAM NQ2 AS SELECT AUCTION, PRICE FROM BID WHERE AUCTION % 123 = 0;"],
        sinks: &["NQ2"],
    },
    Query {
        name: "q3",
        about: "local item suggestion: category-10 auctions of sellers in OR, ID or CA (auctions joined with the persons table; the generator writes states in lower case)",
        reads: [true, true, false],
        statements: &["CREATE STREAM NQ3 AS SELECT P.ID AS SELLER, A.ID AS AUCTION_ID, P.NAME, P.CITY, P.STATE FROM AUCTION A JOIN PERSON_T P ON A.SELLER = P.ID WHERE A.CATEGORY = 10 AND (P.STATE = 'or' OR P.STATE = 'id' OR P.STATE = 'ca');"],
        sinks: &["NQ3"],
    },
    Query {
        name: "q4",
        about: "average winning price per category: bids joined with their auction while it is open, the highest per auction, averaged per category",
        reads: [false, true, true],
        statements: &[
            "CREATE TABLE NQ4_WINNING AS SELECT A.ID AS AUCTION_ID, LATEST_BY_OFFSET(A.CATEGORY) AS CATEGORY, MAX(B.PRICE) AS FINAL FROM AUCTION A JOIN BID B WITHIN (0 SECONDS, 1 HOUR) ON A.ID = B.AUCTION WHERE B.DATE_TIME <= A.EXPIRES GROUP BY A.ID;",
            "CREATE TABLE NQ4 AS SELECT CATEGORY, AVG(FINAL) AS AVG_PRICE FROM NQ4_WINNING GROUP BY CATEGORY;",
        ],
        sinks: &["NQ4", "NQ4_WINNING"],
    },
    Query {
        name: "q5",
        about: "hot items: bids per auction in 10 s hopping windows advancing by 2 s",
        reads: [false, false, true],
        statements: &["CREATE TABLE NQ5 AS SELECT AUCTION, COUNT(*) AS NUM FROM BID WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 2 SECONDS) GROUP BY AUCTION;"],
        sinks: &["NQ5"],
    },
    Query {
        name: "q7",
        about: "highest bid: the highest price in each 10 s tumbling window",
        reads: [false, false, true],
        statements: &["CREATE TABLE NQ7 AS SELECT 1 AS K, MAX(PRICE) AS MAX_PRICE FROM BID WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY 1;"],
        sinks: &["NQ7"],
    },
    Query {
        name: "q8",
        about: "monitor new users: persons who opened an auction within 10 s of joining",
        reads: [true, true, false],
        statements: &["CREATE STREAM NQ8 AS SELECT P.ID, P.NAME, A.RESERVE FROM PERSON P JOIN AUCTION A WITHIN 10 SECONDS ON P.ID = A.SELLER;"],
        sinks: &["NQ8"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use nexmark::EventGenerator;

    #[test]
    fn events_become_records_of_the_columns_the_sources_declare() {
        let topics = Topics::new("nx");
        let sql = sources(&topics);
        let declared: std::collections::HashSet<&str> = sql
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .collect();
        let mut seen = [false; 3];
        for event in EventGenerator::new(nexmark::config::NexmarkConfig::default()).take(1000) {
            let (topic, key, value) = record(&event).unwrap();
            seen[topic] = true;
            let json: serde_json::Value = serde_json::from_slice(&value).unwrap();
            let object = json.as_object().unwrap();
            // every JSON field is a declared column
            for field in object.keys() {
                assert!(
                    declared.contains(field.to_uppercase().as_str()),
                    "{field} is not declared"
                );
            }
            let id = match &event {
                Event::Person(p) => p.id,
                Event::Auction(a) => a.id,
                Event::Bid(b) => b.auction,
            };
            assert_eq!(i64::from_be_bytes(key), id as i64);
        }
        assert_eq!(seen, [true, true, true], "persons, auctions, bids");
        assert!(sql.contains("kafka_topic='nx-bid'"));
    }

    #[test]
    fn every_query_names_its_sinks_and_reads_something() {
        for q in QUERIES {
            assert!(q.reads.iter().any(|r| *r), "{}", q.name);
            for sink in q.sinks {
                assert!(
                    q.statements
                        .iter()
                        .any(|s| s.contains(&format!(" {sink} AS "))),
                    "{}: {sink}",
                    q.name
                );
            }
        }
    }
}
