//! `Topology::describe()` against what Kafka Streams 4.x prints for the same topologies (the
//! expected texts were printed by the `kafka-streams` 4.0.0 and 4.4.0 jars, or come from Kafka
//! Streams' own tests), including the order of the `-->`/`<--` lists that Java's collections
//! decide.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

use tributary_streams::{Consumed, Produced, Serdes, StreamsBuilder};

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn out() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

#[test]
fn a_chain_prints_as_kafka_streams_prints_it() {
    let b = StreamsBuilder::new();
    b.stream("input", strings())
        .filter(|_, _| true)
        .map_values(|v: &String| v.clone())
        .to("output", out());
    let expected = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-FILTER-0000000001
    Processor: KSTREAM-FILTER-0000000001 (stores: [])
      --> KSTREAM-MAPVALUES-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])
      --> KSTREAM-SINK-0000000003
      <-- KSTREAM-FILTER-0000000001
    Sink: KSTREAM-SINK-0000000003 (topic: output)
      <-- KSTREAM-MAPVALUES-0000000002

";
    assert_eq!(b.build().unwrap().describe().to_string(), expected);
}

#[test]
fn branches_merges_and_a_second_subtopology_print_in_javas_order() {
    let b = StreamsBuilder::new();
    let s = b.stream("input", strings());
    let m = s
        .split()
        .branch(|_, v: &String| v.starts_with('a'))
        .branch(|_, v: &String| v.starts_with('b'))
        .default_branch();
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "KSTREAM-BRANCH-00000000010",
            "KSTREAM-BRANCH-00000000011",
            "KSTREAM-BRANCH-00000000012"
        ]
    );
    m["KSTREAM-BRANCH-00000000011"]
        .merge(&m["KSTREAM-BRANCH-00000000012"])
        .filter_not(|_, _| false)
        .to("out", out());
    m["KSTREAM-BRANCH-00000000010"].to("other", out());
    b.stream("input2", strings())
        .peek(|_, _| {})
        .to("out2", out());
    // (a plain sort by size and name would list 011, 012, 010 after the splitter's -->)
    let expected = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-BRANCH-0000000001 (stores: [])
      --> KSTREAM-BRANCH-00000000011, KSTREAM-BRANCH-00000000010, KSTREAM-BRANCH-00000000012
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-BRANCH-00000000011 (stores: [])
      --> KSTREAM-MERGE-0000000005
      <-- KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-BRANCH-00000000012 (stores: [])
      --> KSTREAM-MERGE-0000000005
      <-- KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-MERGE-0000000005 (stores: [])
      --> KSTREAM-FILTER-0000000006
      <-- KSTREAM-BRANCH-00000000011, KSTREAM-BRANCH-00000000012
    Processor: KSTREAM-BRANCH-00000000010 (stores: [])
      --> KSTREAM-SINK-0000000008
      <-- KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-FILTER-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KSTREAM-MERGE-0000000005
    Sink: KSTREAM-SINK-0000000007 (topic: out)
      <-- KSTREAM-FILTER-0000000006
    Sink: KSTREAM-SINK-0000000008 (topic: other)
      <-- KSTREAM-BRANCH-00000000010

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000009 (topics: [input2])
      --> KSTREAM-PEEK-0000000010
    Processor: KSTREAM-PEEK-0000000010 (stores: [])
      --> KSTREAM-SINK-0000000011
      <-- KSTREAM-SOURCE-0000000009
    Sink: KSTREAM-SINK-0000000011 (topic: out2)
      <-- KSTREAM-PEEK-0000000010

";
    let topology = b.build().unwrap();
    assert_eq!(topology.describe().subtopology_count(), 2);
    assert_eq!(topology.describe().to_string(), expected);
}

#[test]
fn every_stateless_operation_is_named_as_in_kafka_streams() {
    let b = StreamsBuilder::new();
    b.stream_from(&["topic-b", "topic-a", "topic-c"], strings())
        .map(|k: &String, v: &String| (k.clone(), v.clone()))
        .flat_map(|k: &String, v: &String| vec![(k.clone(), v.clone())])
        .flat_map_values(|v: &String| vec![v.clone()])
        .select_key(|k: &String, _: &String| k.clone())
        .foreach(|_, _| {});
    let expected = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [topic-a, topic-b, topic-c])
      --> KSTREAM-MAP-0000000001
    Processor: KSTREAM-MAP-0000000001 (stores: [])
      --> KSTREAM-FLATMAP-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FLATMAP-0000000002 (stores: [])
      --> KSTREAM-FLATMAPVALUES-0000000003
      <-- KSTREAM-MAP-0000000001
    Processor: KSTREAM-FLATMAPVALUES-0000000003 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000004
      <-- KSTREAM-FLATMAP-0000000002
    Processor: KSTREAM-KEY-SELECT-0000000004 (stores: [])
      --> KSTREAM-FOREACH-0000000005
      <-- KSTREAM-FLATMAPVALUES-0000000003
    Processor: KSTREAM-FOREACH-0000000005 (stores: [])
      --> none
      <-- KSTREAM-KEY-SELECT-0000000004

";
    assert_eq!(b.build().unwrap().describe().to_string(), expected);
}

#[test]
fn merges_of_three_branches_print_as_kafkas_own_test_expects() {
    // Kafka Streams' StreamsGraphTest (expectedMergeOptimizedTopology)
    let b = StreamsBuilder::new();
    let keyed = b
        .stream("input_topic", strings())
        .select_key(|k: &String, _: &String| k.clone());
    let c1 = keyed.map_values(|v: &String| v.clone());
    let c2 = keyed.map_values(|v: &String| v.clone());
    let c3 = keyed.map_values(|v: &String| v.clone());
    c1.merge(&c2).merge(&c3).to("output_topic", out());
    let expected = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input_topic])
      --> KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
      --> KSTREAM-MAPVALUES-0000000002, KSTREAM-MAPVALUES-0000000003, KSTREAM-MAPVALUES-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])
      --> KSTREAM-MERGE-0000000005
      <-- KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])
      --> KSTREAM-MERGE-0000000005
      <-- KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-MAPVALUES-0000000004 (stores: [])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-MERGE-0000000005 (stores: [])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-MAPVALUES-0000000002, KSTREAM-MAPVALUES-0000000003
    Processor: KSTREAM-MERGE-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KSTREAM-MERGE-0000000005, KSTREAM-MAPVALUES-0000000004
    Sink: KSTREAM-SINK-0000000007 (topic: output_topic)
      <-- KSTREAM-MERGE-0000000006

";
    assert_eq!(b.build().unwrap().describe().to_string(), expected);
}

#[test]
fn an_empty_topology_and_bad_topologies() {
    assert_eq!(
        StreamsBuilder::new()
            .build()
            .unwrap()
            .describe()
            .to_string(),
        "Topologies:\n "
    );
    // two streams of the same topic are one source (which took an index for each), as Kafka
    // Streams folds them
    let b = StreamsBuilder::new();
    b.stream("t", strings()).to("o1", out());
    b.stream("t", strings()).to("o2", out());
    let text = b.build().unwrap().describe().to_string();
    assert!(
        text.contains(
            "Source: KSTREAM-SOURCE-0000000000 (topics: [t])\n      --> KSTREAM-SINK-0000000001, KSTREAM-SINK-0000000003"
        ),
        "{text}"
    );
    // sources sharing only some topics cannot both read them
    let b = StreamsBuilder::new();
    let _ = b.stream_from(&["a", "b"], strings());
    let _ = b.stream("b", strings());
    let err = b.build().err().unwrap().to_string();
    assert_eq!(
        err,
        "Invalid topology: Two source nodes are subscribed to overlapping but not equal input topics"
    );
    // a name Kafka refuses
    let b = StreamsBuilder::new();
    let _ = b.stream("t", strings().named("bad name"));
    let err = b.build().err().unwrap().to_string();
    assert!(err.contains("Name \"bad name\" is illegal"), "{err}");
    let b = StreamsBuilder::new();
    let _ = b.stream("t", strings().named(""));
    let err = b.build().err().unwrap().to_string();
    assert_eq!(err, "Invalid topology: Name is illegal, it can't be empty");
    // merging streams of two builders is refused
    let (b1, b2) = (StreamsBuilder::new(), StreamsBuilder::new());
    let _ = b1.stream("x", strings()).merge(&b2.stream("y", strings()));
    let err = b1.build().err().unwrap().to_string();
    assert!(err.contains("different builders"), "{err}");
    // a name used twice
    let b = StreamsBuilder::new();
    let s = b.stream("t", strings());
    s.to("a", out().named("sink"));
    s.to("b", out().named("sink"));
    let err = b.build().err().unwrap().to_string();
    assert_eq!(err, "Invalid topology: Processor sink is already added.");
}
