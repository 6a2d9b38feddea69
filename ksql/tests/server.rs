//! The KSQL server's REST API against an in-process broker, the way ksqlDB's clients use it:
//! statements through `/ksql` (their entities, and a bad statement's 400), push queries
//! through `/query` and `/query-stream` (rows as they are inserted, `LIMIT`, `/close-query`),
//! rows streamed in through `/inserts-stream`, `/info`, and aggregations over joins.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use tributary_ksql::server::{KsqlServer, ServerConfig};
use tributary_testkit::{unique_name, TestBroker};

async fn server(broker: &TestBroker) -> (KsqlServer, String) {
    let mut props = BTreeMap::new();
    props.insert("bootstrap.servers".to_string(), broker.bootstrap());
    props.insert("listeners".to_string(), "http://127.0.0.1:0".to_string());
    props.insert("ksql.service.id".to_string(), unique_name("svc"));
    props.insert(
        "ksql.streams.commit.interval.ms".to_string(),
        "100".to_string(),
    );
    let server = KsqlServer::start(ServerConfig::from_properties(props).unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", server.addr());
    (server, url)
}

async fn ksql(url: &str, sql: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}/ksql"))
        .json(&json!({"ksql": sql, "streamsProperties": {}}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_answer_with_ksqldb_entities() {
    let broker = TestBroker::start().await;
    let (server, url) = server(&broker).await;
    let topic = unique_name("pageviews");
    broker.create_topic(&topic, 1).await;

    let info: Value = reqwest::get(format!("{url}/info"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["KsqlServerInfo"]["serverStatus"], "RUNNING");

    let (status, body) = ksql(
        &url,
        &format!("CREATE STREAM PAGEVIEWS (USERID STRING KEY, PAGE STRING) WITH (kafka_topic='{topic}', value_format='JSON');"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["@type"], "currentStatus");
    assert_eq!(body[0]["commandStatus"]["status"], "SUCCESS");
    assert_eq!(body[0]["commandStatus"]["message"], "Stream created");
    assert_eq!(body[0]["commandId"], "stream/`PAGEVIEWS`/create");

    let (_, body) = ksql(&url, "SHOW STREAMS; DESCRIBE PAGEVIEWS;").await;
    assert_eq!(body[0]["@type"], "streams");
    let streams = body[0]["streams"].as_array().unwrap();
    let ours = streams.iter().find(|s| s["name"] == "PAGEVIEWS").unwrap();
    assert_eq!(ours["topic"], topic.as_str());
    assert_eq!(ours["valueFormat"], "JSON");
    assert_eq!(body[1]["@type"], "sourceDescription");
    let fields = body[1]["sourceDescription"]["fields"].as_array().unwrap();
    assert_eq!(fields[0]["name"], "USERID");
    assert_eq!(fields[0]["type"], "KEY");
    assert_eq!(fields[1]["schema"]["type"], "STRING");

    // header columns: ksqlDB's schema rules, and INSERT VALUES writes only the value's
    for (columns, message) in [
        (
            "A ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, B BYTES HEADER('x')",
            "Schema already contains a HEADERS column.",
        ),
        (
            "A BYTES HEADER('x'), B BYTES HEADER('x')",
            "Schema already contains a HEADER('x') column.",
        ),
    ] {
        let (status, body) = ksql(
            &url,
            &format!("CREATE STREAM BADH (K STRING KEY, {columns}) WITH (kafka_topic='{topic}', value_format='JSON');"),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["message"], message);
    }
    let headed = unique_name("headed");
    let (status, body) = ksql(
        &url,
        &format!("CREATE STREAM HEADED (K STRING KEY, V INT, H BYTES HEADER('h')) WITH (kafka_topic='{headed}', value_format='DELIMITED', partitions=1); INSERT INTO HEADED (K, V) VALUES ('a', 7);"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rows = query_rows(&url, "SELECT * FROM HEADED;").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[1]["row"]["columns"], json!(["a", 7, null]), "{rows:?}");

    // a bad statement: 400, ksqlDB's error body, and the statement
    let (status, body) = ksql(&url, "CREATE STREAM X AS SELECT NOPE FROM PAGEVIEWS;").await;
    assert_eq!(status, 400);
    assert_eq!(body["@type"], "statement_error");
    assert_eq!(body["error_code"], 40001);
    assert!(body["message"].as_str().unwrap().contains("NOPE"), "{body}");
    let (status, body) = ksql(&url, "SELEC 1;").await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("line 1:1"),
        "{body}"
    );

    // a persistent query shows, and is terminated
    let (status, body) = ksql(
        &url,
        "CREATE STREAM HOME AS SELECT * FROM PAGEVIEWS WHERE PAGE = 'home';",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body[0]["commandStatus"]["queryId"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = ksql(&url, "SHOW QUERIES;").await;
    assert!(body[0]["queries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["id"] == id.as_str() && q["sinks"][0] == "HOME"));
    // EXPLAIN: the query's statement, columns, sources and sink, plan and topology
    let (status, body) = ksql(&url, &format!("EXPLAIN {id};")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["@type"], "queryDescription");
    let d = &body[0]["queryDescription"];
    assert_eq!(d["id"], id.as_str());
    assert_eq!(d["sources"], json!(["PAGEVIEWS"]));
    assert_eq!(d["sinks"], json!(["HOME"]));
    assert_eq!(d["fields"][0]["name"], "USERID");
    assert_eq!(d["queryType"], "PERSISTENT");
    let plan = d["executionPlan"].as_str().unwrap();
    let steps: Vec<&str> = plan
        .lines()
        .map(|l| l.trim_start().split(" |").next().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "> [ SINK ]",
            "> [ PROJECT ]",
            "> [ FILTER ]",
            "> [ SOURCE ]"
        ],
        "{plan}"
    );
    let topology = d["topology"].as_str().unwrap();
    assert!(
        topology.contains("Sub-topology: 0") && topology.contains(&topic),
        "{topology}"
    );
    let (status, body) = ksql(&url, "EXPLAIN CSAS_NOPE_0;").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"],
        "Query with id:CSAS_NOPE_0 does not exist, use SHOW QUERIES to view the full set of running queries."
    );

    let (status, body) = ksql(&url, &format!("TERMINATE {id}; DROP STREAM HOME;")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["commandStatus"]["message"], "Query terminated.");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_queries_stream_rows_until_their_limit_or_close() {
    let broker = TestBroker::start().await;
    let (server, url) = server(&broker).await;
    let topic = unique_name("clicks");
    broker.create_topic(&topic, 1).await;
    let (status, body) = ksql(
        &url,
        &format!("CREATE STREAM CLICKS (ID INT KEY, URL STRING, N BIGINT) WITH (kafka_topic='{topic}', value_format='JSON');
                  INSERT INTO CLICKS (ID, URL, N) VALUES (1, 'a', 10);
                  INSERT INTO CLICKS (ID, URL, N) VALUES (2, 'b', 20);
                  INSERT INTO CLICKS (ID, URL, N) VALUES (3, 'c', 30);"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // /query: ksqlDB's chunked JSON array, from the beginning, two rows then the limit
    let text = reqwest::Client::new()
        .post(format!("{url}/query"))
        .json(&json!({
            "ksql": "SELECT URL, N * 2 AS TWICE, ID FROM CLICKS WHERE N > 10 EMIT CHANGES LIMIT 2;",
            "streamsProperties": {"auto.offset.reset": "earliest"},
        }))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        all[0]["header"]["schema"],
        "`URL` STRING, `TWICE` BIGINT, `ID` INTEGER"
    );
    assert_eq!(all[1]["row"]["columns"], json!(["b", 40, 2]));
    assert_eq!(all[2]["row"]["columns"], json!(["c", 60, 3]));
    assert_eq!(all[3]["finalMessage"], "Limit Reached");

    // /query-stream: a header line, then rows as they are inserted; /close-query ends it
    let mut response = reqwest::Client::new()
        .post(format!("{url}/query-stream"))
        .json(&json!({"sql": "SELECT * FROM CLICKS EMIT CHANGES;", "properties": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.ksqlapi.delimited.v1"
    );
    // (latest: only what is written once the query reads; keep writing until a row comes)
    let writer = {
        let url = url.clone();
        tokio::spawn(async move {
            for i in 100.. {
                let (status, body) = ksql(
                    &url,
                    &format!("INSERT INTO CLICKS (ID, URL, N) VALUES ({i}, 'u{i}', {i});"),
                )
                .await;
                assert_eq!(status, 200, "{body}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let mut buffered = String::new();
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(60), response.chunk())
            .await
            .expect("a row within a minute")
            .unwrap()
            .expect("the stream goes on");
        buffered.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(i) = buffered.find('\n') {
            lines.push(buffered[..i].to_string());
            buffered.drain(..=i);
        }
    }
    writer.abort();
    let header: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(header["columnNames"], json!(["ID", "URL", "N"]));
    assert_eq!(
        header["columnTypes"],
        json!(["INTEGER", "STRING", "BIGINT"])
    );
    let row: Value = serde_json::from_str(&lines[1]).unwrap();
    let id = row[0].as_i64().unwrap();
    assert!(
        id >= 100,
        "only rows written after the query started: {row}"
    );
    assert_eq!(row, json!([id, format!("u{id}"), id]));
    let closed = reqwest::Client::new()
        .post(format!("{url}/close-query"))
        .json(&json!({"queryId": header["queryId"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status().as_u16(), 200);
    let end = tokio::time::timeout(Duration::from_secs(60), async {
        while response.chunk().await.unwrap().is_some() {}
    })
    .await;
    assert!(end.is_ok(), "the stream ends once the query is closed");
    server.stop().await;
}

/// The rows of a `/query` push query from the beginning (its `LIMIT` ends it).
async fn query_rows(url: &str, sql: &str) -> Vec<Value> {
    query_answer(url, sql, json!({"auto.offset.reset": "earliest"})).await
}

/// The whole answer of a query sent to `/query` with `properties`.
async fn query_answer(url: &str, sql: &str, properties: Value) -> Vec<Value> {
    let text = reqwest::Client::new()
        .post(format!("{url}/query"))
        .json(&json!({"ksql": sql, "streamsProperties": properties}))
        .timeout(Duration::from_secs(90))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str::<Vec<Value>>(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_queries_aggregate_join_and_show_deletions() {
    let broker = TestBroker::start().await;
    let (server, url) = server(&broker).await;
    let (views, users) = (unique_name("views"), unique_name("users"));
    broker.create_topic(&views, 1).await;
    broker.create_topic(&users, 1).await;
    let (status, body) = ksql(
        &url,
        &format!("CREATE STREAM VIEWS (USERID STRING KEY, PAGE STRING) WITH (kafka_topic='{views}', value_format='JSON');
                  CREATE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='{users}', value_format='JSON');
                  INSERT INTO VIEWS (ROWTIME, USERID, PAGE) VALUES (60000, 'alice', '/home');
                  INSERT INTO VIEWS (ROWTIME, USERID, PAGE) VALUES (61000, 'bob', '/cart');
                  INSERT INTO VIEWS (ROWTIME, USERID, PAGE) VALUES (62000, 'alice', '/cart');
                  INSERT INTO VIEWS (ROWTIME, USERID, PAGE) VALUES (125000, 'alice', '/home');
                  INSERT INTO USERS (ROWTIME, ID, NAME) VALUES (1000, 'alice', 'Alice');"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // a windowed count per user, the window bounds selected
    let rows = query_rows(
        &url,
        "SELECT USERID, WINDOWSTART, WINDOWEND, COUNT(*) AS VIEWS FROM VIEWS WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY USERID EMIT CHANGES LIMIT 4;",
    )
    .await;
    assert_eq!(
        rows[0]["header"]["schema"],
        "`USERID` STRING, `WINDOWSTART` BIGINT, `WINDOWEND` BIGINT, `VIEWS` BIGINT"
    );
    let got: Vec<&Value> = rows[1..5].iter().map(|r| &r["row"]["columns"]).collect();
    assert_eq!(
        got,
        [
            &json!(["alice", 60000, 120000, 1]),
            &json!(["bob", 60000, 120000, 1]),
            &json!(["alice", 60000, 120000, 2]),
            &json!(["alice", 120000, 180000, 1]),
        ]
    );
    assert_eq!(rows[5]["finalMessage"], "Limit Reached");

    // no GROUP BY: every row is one group; a push query need not select its keys
    let rows = query_rows(
        &url,
        "SELECT COUNT(*) AS N FROM VIEWS EMIT CHANGES LIMIT 4;",
    )
    .await;
    assert_eq!(rows[0]["header"]["schema"], "`N` BIGINT");
    assert_eq!(rows[4]["row"]["columns"], json!([4]));
    let rows = query_rows(
        &url,
        "SELECT COUNT(*) AS N FROM VIEWS GROUP BY PAGE EMIT CHANGES LIMIT 3;",
    )
    .await;
    let counts: Vec<&Value> = rows[1..4].iter().map(|r| &r["row"]["columns"]).collect();
    assert_eq!(counts, [&json!([1]), &json!([1]), &json!([2])]);

    // a stream-table join (the streams runtime reads its inputs in the order they are
    // fetched: views written while the query runs find the table loaded)
    let writer = {
        let url = url.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                ksql(
                    &url,
                    "INSERT INTO VIEWS (USERID, PAGE) VALUES ('alice', '/later');",
                )
                .await;
            }
        })
    };
    let rows = query_rows(
        &url,
        "SELECT V.USERID, U.NAME, V.PAGE FROM VIEWS V JOIN USERS U ON V.USERID = U.ID EMIT CHANGES LIMIT 1;",
    )
    .await;
    writer.abort();
    assert_eq!(
        rows[0]["header"]["schema"],
        "`USERID` STRING, `NAME` STRING, `PAGE` STRING"
    );
    let first = &rows[1]["row"]["columns"];
    assert_eq!(first[0], "alice");
    assert_eq!(first[1], "Alice");

    // a table's deleted key: a row of its key with null values, marked as a tombstone
    let producer: rdkafka::producer::FutureProducer = broker.client_config().create().unwrap();
    producer
        .send(
            rdkafka::producer::FutureRecord::<[u8], [u8]>::to(&users).key(b"alice".as_slice()),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let rows = query_rows(&url, "SELECT * FROM USERS EMIT CHANGES LIMIT 2;").await;
    assert_eq!(rows[1]["row"]["columns"], json!(["alice", "Alice"]));
    assert_eq!(
        rows[2]["row"],
        json!({"columns": ["alice", null], "tombstone": true})
    );

    // ended push queries leave no consumer group or internal topic behind
    server.stop().await;
    let consumer: rdkafka::consumer::BaseConsumer = broker.client_config().create().unwrap();
    let metadata =
        rdkafka::consumer::Consumer::fetch_metadata(&consumer, None, Duration::from_secs(30))
            .unwrap();
    let leftovers: Vec<&str> = metadata
        .topics()
        .iter()
        .map(|t| t.name())
        .filter(|t| t.contains("transient_"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_queries_answer_a_tables_current_rows_and_a_streams_records() {
    let broker = TestBroker::start().await;
    let (server, url) = server(&broker).await;
    let topic = unique_name("orders");
    broker.create_topic(&topic, 2).await;
    let (status, body) = ksql(
        &url,
        &format!("CREATE STREAM ORDERS (ID INT KEY, CUSTOMER STRING, AMOUNT DOUBLE) WITH (kafka_topic='{topic}', value_format='JSON');
                  CREATE TABLE TOTALS AS SELECT CUSTOMER, COUNT(*) AS N, SUM(AMOUNT) AS TOTAL FROM ORDERS GROUP BY CUSTOMER;
                  INSERT INTO ORDERS (ID, CUSTOMER, AMOUNT) VALUES (1, 'ann', 10.0);
                  INSERT INTO ORDERS (ID, CUSTOMER, AMOUNT) VALUES (2, 'bob', 5.5);
                  INSERT INTO ORDERS (ID, CUSTOMER, AMOUNT) VALUES (3, 'ann', 2.5);"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let pull = |sql: &'static str| query_answer(&url, sql, json!({}));
    // a key lookup: the table's current row (the aggregation catches up first)
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows = pull("SELECT * FROM TOTALS WHERE CUSTOMER = 'ann';").await;
        if rows.get(1).is_some_and(|r| r["row"]["columns"][1] == 2) {
            break rows;
        }
        assert!(std::time::Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        rows[0]["header"]["schema"],
        "`CUSTOMER` STRING KEY, `N` BIGINT, `TOTAL` DOUBLE"
    );
    assert_eq!(rows[1]["row"]["columns"], json!(["ann", 2, 12.5]));
    assert_eq!(rows.len(), 2, "one row, no final message: {rows:?}");
    // a scan with a filter on a value; a key that is not there
    let rows = pull("SELECT CUSTOMER, TOTAL FROM TOTALS WHERE TOTAL < 6;").await;
    assert_eq!(rows[1]["row"]["columns"], json!(["bob", 5.5]));
    assert_eq!(rows.len(), 2, "{rows:?}");
    let rows = pull("SELECT * FROM TOTALS WHERE CUSTOMER = 'zoe';").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    // keys looked up from an IN list (and a key asked for twice answered once)
    let rows =
        pull("SELECT CUSTOMER, N FROM TOTALS WHERE CUSTOMER IN ('bob', 'ann', 'bob');").await;
    let mut got: Vec<Value> = rows[1..]
        .iter()
        .map(|r| r["row"]["columns"].clone())
        .collect();
    got.sort_by_key(|r| r[0].as_str().map(str::to_string));
    assert_eq!(got, [json!(["ann", 2]), json!(["bob", 1])]);
    // with table scans off, a WHERE without the key is refused with ksqlDB's message
    let r = reqwest::Client::new()
        .post(format!("{url}/query"))
        .json(&json!({"ksql": "SELECT * FROM TOTALS WHERE TOTAL < 6;",
                      "streamsProperties": {"ksql.query.pull.table.scan.enabled": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().is_some_and(
            |m| m.starts_with("WHERE clause missing key column for disjunct: (TOTAL < 6)")
        ),
        "{body}"
    );
    let rows = query_answer(
        &url,
        "SELECT * FROM TOTALS WHERE CUSTOMER = 'bob';",
        json!({"ksql.query.pull.table.scan.enabled": false}),
    )
    .await;
    assert_eq!(rows[1]["row"]["columns"], json!(["bob", 1, 5.5]));
    // a stream's records, then the end
    let rows = pull("SELECT ID, AMOUNT FROM ORDERS WHERE AMOUNT > 3;").await;
    let mut got: Vec<Value> = rows[1..3]
        .iter()
        .map(|r| r["row"]["columns"].clone())
        .collect();
    got.sort_by_key(|r| r[0].as_i64());
    assert_eq!(got, [json!([1, 10.0]), json!([2, 5.5])]);
    assert_eq!(rows[3]["finalMessage"], "Query Completed");
    // what a pull query cannot do
    let (status, body) = {
        let r = reqwest::Client::new()
            .post(format!("{url}/query"))
            .json(&json!({"ksql": "SELECT * FROM ORDERS WINDOW TUMBLING (SIZE 1 MINUTE);", "streamsProperties": {}}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 400);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Pull queries don't support WINDOW clauses."));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scalable_push_queries_follow_a_persistent_querys_output() {
    let broker = TestBroker::start().await;
    let (server, url) = server(&broker).await;
    let topic = unique_name("orders");
    let (status, body) = ksql(
        &url,
        &format!("CREATE STREAM ORDERS (ID INT KEY, ITEM STRING, QTY INT) WITH (kafka_topic='{topic}', value_format='JSON', partitions=2);
                  CREATE STREAM BIG AS SELECT ID, ITEM, QTY FROM ORDERS WHERE QTY > 1;
                  INSERT INTO ORDERS (ID, ITEM, QTY) VALUES (1, 'old', 5);"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // (the persistent query's output before the push query starts is not part of it)
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !query_rows(&url, "SELECT * FROM BIG;")
        .await
        .iter()
        .any(|r| r.get("row").is_some())
    {
        assert!(std::time::Instant::now() < deadline, "BIG stays empty");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let query = tokio::spawn({
        let url = url.clone();
        async move {
            query_answer(
                &url,
                "SELECT ITEM, QTY * 10 AS TENS FROM BIG WHERE ITEM <> 'skip' EMIT CHANGES LIMIT 2;",
                json!({"ksql.query.push.v2.enabled": true, "auto.offset.reset": "latest"}),
            )
            .await
        }
    });
    // (the query reads from the ends its partitions have when it starts)
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = ksql(
        &url,
        "INSERT INTO ORDERS (ID, ITEM, QTY) VALUES (2, 'small', 1);
         INSERT INTO ORDERS (ID, ITEM, QTY) VALUES (3, 'skip', 7);
         INSERT INTO ORDERS (ID, ITEM, QTY) VALUES (4, 'pen', 2);
         INSERT INTO ORDERS (ID, ITEM, QTY) VALUES (5, 'ink', 3);",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rows = query.await.unwrap();
    let id = rows[0]["header"]["queryId"].as_str().unwrap();
    assert!(id.starts_with("SCALABLE_PUSH_QUERY_"), "{id}");
    assert_eq!(rows[0]["header"]["schema"], "`ITEM` STRING, `TENS` INTEGER");
    let mut got: Vec<&Value> = rows[1..3].iter().map(|r| &r["row"]["columns"]).collect();
    got.sort_by_key(|v| v.to_string());
    assert_eq!(got, [&json!(["ink", 30]), &json!(["pen", 20])]);
    assert_eq!(rows[3]["finalMessage"], "Limit Reached");
    server.stop().await;
}

/// `PRINT` through `/query`: a topic's records as ksqlDB prints them, the formats that could
/// have written them, `INTERVAL` and `LIMIT`; a missing topic's message names its look-alikes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_shows_a_topics_records_and_their_formats() {
    let broker = TestBroker::start().await;
    let (server, url) = server(&broker).await;
    let topic = unique_name("Printed");
    broker.create_topic(&topic, 1).await;
    let producer: rdkafka::producer::FutureProducer = broker.client_config().create().unwrap();
    for (i, value) in ["{\"a\":1}", "{\"a\":2}", "{\"a\":3}"].iter().enumerate() {
        producer
            .send(
                rdkafka::producer::FutureRecord::to(&topic)
                    .key(format!("k{i}").as_bytes())
                    .payload(value.as_bytes())
                    .timestamp(1_609_459_200_000 + i as i64),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let print = |sql: String| {
        let url = url.clone();
        async move {
            let r = reqwest::Client::new()
                .post(format!("{url}/query"))
                .json(&json!({"ksql": sql, "streamsProperties": {}}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    // (JSON text is a string too; a key that is not JSON only a string)
    let (status, text) = tokio::time::timeout(
        Duration::from_secs(60),
        print(format!("PRINT '{topic}' FROM BEGINNING LIMIT 3;")),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        vec![
            "Key format: KAFKA_STRING",
            "Value format: JSON or KAFKA_STRING",
            "rowtime: 2021/01/01 00:00:00.000 Z, key: k0, value: {\"a\":1}, partition: 0",
            "rowtime: 2021/01/01 00:00:00.001 Z, key: k1, value: {\"a\":2}, partition: 0",
            "rowtime: 2021/01/01 00:00:00.002 Z, key: k2, value: {\"a\":3}, partition: 0",
        ]
    );
    let (_, text) = tokio::time::timeout(
        Duration::from_secs(60),
        print(format!(
            "PRINT '{topic}' FROM BEGINNING INTERVAL 2 LIMIT 2;"
        )),
    )
    .await
    .unwrap();
    let records: Vec<&str> = text.lines().filter(|l| l.starts_with("rowtime")).collect();
    assert_eq!(records.len(), 2, "{text}");
    assert!(
        records[0].contains("key: k0") && records[1].contains("key: k2"),
        "{text}"
    );

    let (status, body) = ksql(&url, &format!("PRINT '{}';", topic.to_lowercase())).await;
    assert_eq!(status, 400);
    let r = reqwest::Client::new()
        .post(format!("{url}/query"))
        .json(
            &json!({"ksql": format!("PRINT '{}';", topic.to_lowercase()), "streamsProperties": {}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "{body}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["message"],
        format!(
            "Could not find topic '{}', or the KSQL user does not have permissions to list the topic. Topic names are case-sensitive.\nDid you mean:\n\tprint {topic};",
            topic.to_lowercase()
        )
    );
    server.stop().await;
    broker.stop().await;
}

/// Posts `lines` to `/inserts-stream` (as `accept`) and reads the whole answer.
async fn inserts(url: &str, lines: &[Value], accept: &str) -> (u16, String) {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let r = reqwest::Client::new()
        .post(format!("{url}/inserts-stream"))
        .header("accept", accept)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_stream_writes_rows_and_acknowledges_each() {
    let broker = TestBroker::start().await;
    let (server, url) = server(&broker).await;
    let topic = unique_name("readings");
    let (status, body) = ksql(
        &url,
        &format!("CREATE STREAM READINGS (SENSOR STRING KEY, TEMP DOUBLE, `Unit` STRING) WITH (kafka_topic='{topic}', value_format='JSON', partitions=2);"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // one ack per row, in order, one per line; field names are column names in any case
    // unless quoted
    let (status, text) = inserts(
        &url,
        &[
            json!({"target": "readings", "properties": {}}),
            json!({"SENSOR": "a", "TEMP": 20.5, "`Unit`": "C"}),
            json!({"sensor": "b", "temp": 70}),
            json!({"Sensor": "a", "Temp": null}),
        ],
        "application/vnd.ksqlapi.delimited.v1",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let acks: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        acks,
        [
            json!({"status": "ok", "seq": 0}),
            json!({"status": "ok", "seq": 1}),
            json!({"status": "ok", "seq": 2})
        ]
    );
    // the rows are in the stream
    let rows = query_answer(
        &url,
        "SELECT SENSOR, TEMP, `Unit` FROM READINGS;",
        json!({}),
    )
    .await;
    let mut got: Vec<Value> = rows[1..rows.len() - 1]
        .iter()
        .map(|r| r["row"]["columns"].clone())
        .collect();
    got.sort_by_key(|r| r.to_string());
    assert_eq!(
        got,
        [
            json!(["a", 20.5, "C"]),
            json!(["a", null, null]),
            json!(["b", 70.0, null])
        ]
    );
    // a row that cannot be written: the rows before it are acknowledged, then its error ends
    // the answer (a JSON array for application/json)
    let (status, text) = inserts(
        &url,
        &[
            json!({"target": "READINGS"}),
            json!({"SENSOR": "c", "TEMP": 1.5}),
            json!({"TEMP": 2.5}),
            json!({"SENSOR": "d", "TEMP": 3.5}),
        ],
        "application/json",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer[0], json!({"status": "ok", "seq": 0}));
    assert_eq!(answer[1]["status"], "error");
    assert_eq!(answer[1]["seq"], 1);
    assert_eq!(answer[1]["error_code"], 40000);
    assert_eq!(answer[1]["message"], "Key field must be specified: SENSOR");
    assert_eq!(answer.as_array().map(Vec::len), Some(2), "{answer}");
    // a value of the wrong type, and a target that is not there
    let (_, text) = inserts(
        &url,
        &[
            json!({"target": "READINGS"}),
            json!({"SENSOR": "e", "TEMP": "hot"}),
        ],
        "application/vnd.ksqlapi.delimited.v1",
    )
    .await;
    let error: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(error["seq"], 0);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Can't coerce a field of type String into type DOUBLE"),
        "{error}"
    );
    // HTTP/2 (cleartext, as ksqlDB's clients speak it) as well as HTTP/1.1
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2
        .post(format!("{url}/inserts-stream"))
        .body("{\"target\": \"READINGS\"}\n{\"SENSOR\": \"f\", \"TEMP\": 4.5}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.text().await.unwrap(), "{\"seq\":0,\"status\":\"ok\"}\n");
    let r = h2
        .post(format!("{url}/query-stream"))
        .json(&json!({"sql": "SELECT SENSOR, TEMP FROM READINGS WHERE SENSOR = 'f';", "properties": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let text = r.text().await.unwrap();
    assert_eq!(text.lines().nth(1), Some("[\"f\",4.5]"), "{text}");
    let (status, text) = inserts(&url, &[json!({"target": "NOWHERE"})], "application/json").await;
    assert_eq!(status, 400, "{text}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error_code"], 40001);
    assert!(error["message"]
        .as_str()
        .unwrap()
        .starts_with("Cannot insert values into an unknown stream/table: `NOWHERE`"));
    server.stop().await;
}

/// Polls a pull query until its rows (without the header) are `want`.
async fn await_pull(url: &str, sql: &str, want: &[Value]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let rows = query_answer(url, sql, json!({})).await;
        let got: Vec<Value> = rows[1..]
            .iter()
            .map(|r| r["row"]["columns"].clone())
            .collect();
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: got {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregations_over_joins_keep_their_groups_as_rows_move() {
    let broker = TestBroker::start().await;
    let (server, url) = server(&broker).await;
    let (orders, customers, accounts, owners) = (
        unique_name("orders"),
        unique_name("customers"),
        unique_name("accounts"),
        unique_name("owners"),
    );
    // PARTITIONS makes the topics (the broker would auto-create them with 1 partition)
    let (status, body) = ksql(
        &url,
        &format!("CREATE STREAM ORDERS (ID INT KEY, CUSTOMER STRING, AMOUNT DOUBLE) WITH (kafka_topic='{orders}', value_format='JSON', partitions=3);
                  CREATE TABLE CUSTOMERS (NAME STRING PRIMARY KEY, REGION STRING) WITH (kafka_topic='{customers}', value_format='JSON', partitions=3);
                  CREATE TABLE ACCOUNTS (ID INT PRIMARY KEY, OWNER STRING, BALANCE INT) WITH (kafka_topic='{accounts}', value_format='JSON', partitions=2);
                  CREATE TABLE OWNERS (NAME STRING PRIMARY KEY, CITY STRING) WITH (kafka_topic='{owners}', value_format='JSON', partitions=2);
                  SHOW TOPICS;"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let topics = body[4]["topics"].as_array().unwrap();
    let partitions = |name: &str| {
        topics
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["replicaInfo"].as_array().unwrap().len())
    };
    assert_eq!(partitions(&orders), Some(3), "{body}");
    assert_eq!(partitions(&owners), Some(2), "{body}");

    // a stream-table join aggregated per region, and a foreign-key table join per city
    let (status, body) = ksql(
        &url,
        "CREATE TABLE BY_REGION AS SELECT C.REGION, COUNT(*) AS N, SUM(O.AMOUNT) AS TOTAL FROM ORDERS O JOIN CUSTOMERS C ON O.CUSTOMER = C.NAME GROUP BY C.REGION;
         CREATE TABLE BY_CITY AS SELECT O.CITY, SUM(A.BALANCE) AS TOTAL, COUNT(*) AS N FROM ACCOUNTS A JOIN OWNERS O ON A.OWNER = O.NAME GROUP BY O.CITY;
         DESCRIBE BY_CITY;",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let fields: Vec<&Value> = body[2]["sourceDescription"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["name"])
        .collect();
    assert_eq!(fields, [&json!("CITY"), &json!("TOTAL"), &json!("N")]);
    let (status, body) = ksql(
        &url,
        "INSERT INTO CUSTOMERS (NAME, REGION) VALUES ('alice', 'eu');
         INSERT INTO CUSTOMERS (NAME, REGION) VALUES ('bob', 'us');
         INSERT INTO OWNERS (NAME, CITY) VALUES ('alice', 'paris');
         INSERT INTO OWNERS (NAME, CITY) VALUES ('bob', 'rome');",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // (orders join the customers known when they arrive: written once the table is read)
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = ksql(
        &url,
        "INSERT INTO ORDERS (ID, CUSTOMER, AMOUNT) VALUES (1, 'alice', 10.0);
         INSERT INTO ORDERS (ID, CUSTOMER, AMOUNT) VALUES (2, 'bob', 5.5);
         INSERT INTO ORDERS (ID, CUSTOMER, AMOUNT) VALUES (3, 'alice', 1.0);
         INSERT INTO ORDERS (ID, CUSTOMER, AMOUNT) VALUES (4, 'nobody', 100.0);
         INSERT INTO ACCOUNTS (ID, OWNER, BALANCE) VALUES (1, 'alice', 100);
         INSERT INTO ACCOUNTS (ID, OWNER, BALANCE) VALUES (2, 'bob', 50);
         INSERT INTO ACCOUNTS (ID, OWNER, BALANCE) VALUES (3, 'alice', 7);",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    await_pull(
        &url,
        "SELECT * FROM BY_REGION WHERE REGION = 'eu';",
        &[json!(["eu", 2, 11.0])],
    )
    .await;
    await_pull(
        &url,
        "SELECT * FROM BY_REGION WHERE REGION = 'us';",
        &[json!(["us", 1, 5.5])],
    )
    .await;
    await_pull(
        &url,
        "SELECT * FROM BY_CITY WHERE CITY = 'paris';",
        &[json!(["paris", 107, 2])],
    )
    .await;
    // alice moves to rome, bob's balance changes: the table's rows leave their old groups
    let (status, body) = ksql(
        &url,
        "INSERT INTO OWNERS (NAME, CITY) VALUES ('alice', 'rome');
         INSERT INTO ACCOUNTS (ID, OWNER, BALANCE) VALUES (2, 'bob', 60);",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    await_pull(
        &url,
        "SELECT * FROM BY_CITY WHERE CITY = 'rome';",
        &[json!(["rome", 167, 3])],
    )
    .await;
    await_pull(
        &url,
        "SELECT * FROM BY_CITY WHERE CITY = 'paris';",
        &[json!(["paris", 0, 0])],
    )
    .await;
    // SHOW ALL TOPICS lists the queries' internal topics too, SHOW TOPICS does not
    let (_, body) = ksql(&url, "SHOW TOPICS; SHOW ALL TOPICS;").await;
    let internal = |i: usize| {
        body[i]["topics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| {
                t["name"]
                    .as_str()
                    .unwrap()
                    .ends_with("Aggregate-GroupBy-repartition")
            })
            .count()
    };
    assert_eq!((internal(0), internal(1)), (0, 2), "{body}");
    server.stop().await;
}
