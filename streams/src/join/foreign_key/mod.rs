//! Foreign-key table joins (`KTable::join_on_foreign_key`, `left_join_on_foreign_key`), as
//! Kafka Streams 4 runs them: each row of the left table subscribes, through the
//! registration topic, to the row of the right table its foreign key names; the right side
//! keeps the subscriptions in a store (by foreign key, then primary key) and answers each one,
//! and every subscriber again when a right row changes, through the response topic; the left
//! side joins an answer with the row's current value, dropping answers to a value the row no
//! longer has (their hash differs). The two tables need not be co-partitioned: the
//! registration topic has the right table's partitions, the response topic the left's.
//!
//! The topics, the store and their bytes are Kafka's ([`wire`]), so the join reads and writes
//! what a Java application's would.

mod wire;

use std::any::TypeId;
use std::rc::Rc;
use std::sync::Arc;

use wire::{combined_key, prefix, Instruction, Response, Subscription};

use crate::grouped::Materialized;
use crate::ktable::{table_from_stream, Getter, KTable};
use crate::processor::{
    stateful, stateless, typed, Change, Context, Decoder, Dyn, DynRecord, Header, NodeFactory,
    OutputRecord, StreamsError,
};
use crate::serde::{from_bytes, to_bytes, SharedSerde};
use crate::store::{split_timestamp, with_timestamp, StoreDef, StoreKind};
use crate::topology::Kind;

/// How a foreign-key join is named (Kafka's `TableJoined`): given a name `X`, its nodes,
/// topics and store are `X-subscription-registration-topic`, `X-subscription-store`, ...
#[derive(Debug, Clone, Default)]
pub struct TableJoined {
    name: Option<String>,
}

impl TableJoined {
    /// Generated names (`KTABLE-FK-JOIN-...-<n>`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Names from `name`.
    pub fn named(name: &str) -> Self {
        TableJoined {
            name: Some(name.to_string()),
        }
    }
}

/// The foreign key of a left row (`None`: it has none).
type Extractor<K, V, KO> = Arc<dyn Fn(&K, &V) -> Option<KO> + Send + Sync>;

/// The joiner over a left value and the foreign value, when there is one.
type FkJoiner<V, VO, VR> = Arc<dyn Fn(&V, Option<&VO>) -> VR + Send + Sync>;

/// The serdes a foreign-key join writes and reads with: the left key and value, the foreign
/// key, the right value.
struct Serdes<K, V, KO, VO> {
    key: SharedSerde<K>,
    value: SharedSerde<V>,
    foreign_key: SharedSerde<KO>,
    foreign_value: SharedSerde<VO>,
}

impl<K, V, KO, VO> Clone for Serdes<K, V, KO, VO> {
    fn clone(&self) -> Self {
        Serdes {
            key: Arc::clone(&self.key),
            value: Arc::clone(&self.value),
            foreign_key: Arc::clone(&self.foreign_key),
            foreign_value: Arc::clone(&self.foreign_value),
        }
    }
}

impl<K, V> KTable<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The rows of this table whose foreign key (`foreign_key` of the row) names a row of
    /// `other`, joined with it by `joiner`; a row without a foreign key, or whose foreign row
    /// is missing, has no result (a deletion when it had one). Keys of the result are this
    /// table's. Both tables need serdes (from `Consumed` or `Materialized`).
    pub fn join_on_foreign_key<KO, VO, VR>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: impl Fn(&K, &V) -> Option<KO> + Send + Sync + 'static,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR>
    where
        KO: Send + Sync + 'static,
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.join_on_foreign_key_with(
            other,
            foreign_key,
            joiner,
            TableJoined::new(),
            Materialized::new(),
        )
    }

    /// [`KTable::join_on_foreign_key`] named by `joined`, the result kept as `materialized`
    /// says (a store when it names one).
    pub fn join_on_foreign_key_with<KO, VO, VR>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: impl Fn(&K, &V) -> Option<KO> + Send + Sync + 'static,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        joined: TableJoined,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        KO: Send + Sync + 'static,
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let joiner: FkJoiner<V, VO, VR> = Arc::new(move |v: &V, o: Option<&VO>| match o {
            Some(o) => joiner(v, o),
            // (an inner join never joins without a foreign value)
            None => unreachable_inner(),
        });
        self.foreign_key_join(
            other,
            Arc::new(foreign_key),
            joiner,
            false,
            (joined, materialized),
        )
    }

    /// Every row of this table, joined by `joiner` with the row of `other` its foreign key
    /// names (`None` when it has no foreign key or the foreign row is missing).
    pub fn left_join_on_foreign_key<KO, VO, VR>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: impl Fn(&K, &V) -> Option<KO> + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR>
    where
        KO: Send + Sync + 'static,
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.left_join_on_foreign_key_with(
            other,
            foreign_key,
            joiner,
            TableJoined::new(),
            Materialized::new(),
        )
    }

    /// [`KTable::left_join_on_foreign_key`] named by `joined`, the result kept as
    /// `materialized` says.
    pub fn left_join_on_foreign_key_with<KO, VO, VR>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: impl Fn(&K, &V) -> Option<KO> + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        joined: TableJoined,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        KO: Send + Sync + 'static,
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        self.foreign_key_join(
            other,
            Arc::new(foreign_key),
            Arc::new(joiner),
            true,
            (joined, materialized),
        )
    }

    fn foreign_key_join<KO, VO, VR>(
        &self,
        other: &KTable<KO, VO>,
        extractor: Extractor<K, V, KO>,
        joiner: FkJoiner<V, VO, VR>,
        left: bool,
        (joined, materialized): (TableJoined, Materialized<K, VR>),
    ) -> KTable<K, VR>
    where
        KO: Send + Sync + 'static,
        VO: Send + Sync + 'static,
        VR: Send + Sync + 'static,
    {
        let graph = Rc::clone(self.graph());
        let mut g = graph.borrow_mut();
        let serdes = match (
            self.key_serde(),
            self.value_serde(),
            other.key_serde(),
            other.value_serde(),
        ) {
            (Some(key), Some(value), Some(foreign_key), Some(foreign_value)) => Serdes {
                key,
                value,
                foreign_key,
                foreign_value,
            },
            _ => {
                g.error.get_or_insert(
                    "a foreign-key join needs the key and value serdes of both tables: give them with Consumed::with or Materialized::with".to_string(),
                );
                drop(g);
                return KTable::new(graph, self.node(), None, None, None);
            }
        };
        // both tables are read through stores (a table source gets one)
        let getters = self
            .value_getter(&mut g)
            .and_then(|this| other.value_getter(&mut g).map(|that| (this, that)));
        let ((this_getter, this_stores), (other_getter, other_stores)) = match getters {
            Ok(x) => x,
            Err(e) => {
                g.error.get_or_insert(e);
                drop(g);
                return KTable::new(graph, self.node(), None, None, None);
            }
        };
        // names in Kafka Streams' order, each taking an index, named or not
        let given = joined.name.clone();
        let name = |g: &mut crate::builder::Graph, suffix: &str, prefix: &str| match &given {
            Some(n) => g.name(prefix, Some(&format!("{n}-{suffix}"))),
            None => g.name(prefix, None),
        };
        let topic = |g: &mut crate::builder::Graph, suffix: &str, prefix: &str| match &given {
            Some(n) => g.name(prefix, Some(&format!("{n}-{suffix}"))),
            None => format!("{}-topic", g.name(prefix, None)),
        };
        let registration = topic(
            &mut g,
            "subscription-registration-topic",
            "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-",
        );
        let send_name = name(
            &mut g,
            "subscription-registration-processor",
            "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-",
        );
        let registration_sink = name(&mut g, "subscription-registration-sink", "KTABLE-SINK-");
        let registration_source =
            name(&mut g, "subscription-registration-source", "KTABLE-SOURCE-");
        let store_name = name(
            &mut g,
            "subscription-store",
            "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-",
        );
        let receive_name = name(
            &mut g,
            "subscription-receive",
            "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-",
        );
        let lookup_name = name(
            &mut g,
            "subscription-join-foreign",
            "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-",
        );
        let fan_out_name = name(
            &mut g,
            "foreign-join-subscription",
            "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-",
        );
        let response = topic(
            &mut g,
            "subscription-response-topic",
            "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-",
        );
        let response_sink = name(&mut g, "subscription-response-sink", "KTABLE-SINK-");
        let response_source = name(&mut g, "subscription-response-source", "KTABLE-SOURCE-");
        let resolver_name = name(
            &mut g,
            "subscription-response-resolver",
            "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-",
        );
        let output_name = name(&mut g, "result", "KTABLE-FK-JOIN-OUTPUT-");
        // the result's store: the one `materialized` names, else a name kept for later
        let (store, reserved) = match &materialized.name {
            Some(n) => (
                Some(materialized.add_store(&mut g, "", StoreKind::KeyValue)),
                n.clone(),
            ),
            None => (None, g.name("KTABLE-FK-JOIN-OUTPUT-STATE-STORE-", None)),
        };
        let subscriptions = g.add_store(StoreDef {
            name: store_name,
            logged: true,
            persistent: false,
            dsl_default: true,
            timestamped: true,
            cached: false,
            kind: StoreKind::KeyValue,
        });
        // the left side: subscriptions out
        let send = g.add(
            send_name,
            Kind::Processor { stores: Vec::new() },
            vec![self.node()],
            Some(send_node(
                extractor,
                serdes.clone(),
                registration.clone(),
                left,
            )),
        );
        g.add(
            registration_sink,
            Kind::Sink {
                topic: registration.clone(),
                internal: true,
            },
            vec![send],
            Some(registration_sink_node(registration.clone())),
        );
        let reg_source = g.add(
            registration_source,
            raw_source(&registration),
            Vec::new(),
            None,
        );
        // the right side: subscriptions kept, answered now and on each change
        let receive = g.add(
            receive_name,
            Kind::Processor {
                stores: vec![subscriptions],
            },
            vec![reg_source],
            Some(receive_node(subscriptions)),
        );
        let lookup = g.add(
            lookup_name,
            Kind::Processor {
                stores: other_stores,
            },
            vec![receive],
            Some(lookup_node(
                other_getter,
                serdes.clone(),
                (registration.clone(), response.clone()),
            )),
        );
        let fan_out = g.add(
            fan_out_name,
            Kind::Processor {
                stores: vec![subscriptions],
            },
            vec![other.node()],
            Some(fan_out_node::<KO, VO>(
                subscriptions,
                Arc::clone(&serdes.foreign_key),
                Arc::clone(&serdes.foreign_value),
                (registration.clone(), response.clone()),
            )),
        );
        g.add(
            response_sink,
            Kind::Sink {
                topic: response.clone(),
                internal: true,
            },
            vec![lookup, fan_out],
            Some(response_sink_node(response.clone())),
        );
        let resp_source = g.add(response_source, raw_source(&response), Vec::new(), None);
        // the left side again: answers joined with the rows' current values
        let resolver = g.add(
            resolver_name,
            Kind::Processor {
                stores: this_stores,
            },
            vec![resp_source],
            Some(resolver_node(
                this_getter,
                serdes.clone(),
                joiner,
                left,
                (registration.clone(), response.clone()),
            )),
        );
        // the registration topic is partitioned as the right table, the response topic as
        // the left
        g.copartition(&[reg_source, other.node()]);
        g.copartition(&[resp_source, self.node()]);
        drop(g);
        self.request_old_values();
        other.request_old_values();
        let materialized = materialized.or_serdes(Some(serdes.key), None);
        table_from_stream(
            &graph,
            resolver,
            (output_name, reserved),
            store,
            &materialized,
            None,
        )
    }
}

/// The joiner of an inner join is never called without a foreign value.
fn unreachable_inner<VR>() -> VR {
    unreachable!("an inner foreign-key join joins only rows with a foreign value")
}

/// A source of an internal topic of the join, passing the bytes on.
fn raw_source(topic: &str) -> Kind {
    let decoder: Decoder = Arc::new(
        |_: &str, k: Option<&[u8]>, v: Option<&[u8]>, _: &[Header]| {
            let key: Option<Vec<u8>> = k.map(<[u8]>::to_vec);
            let value: Vec<u8> = v.map(<[u8]>::to_vec).unwrap_or_default();
            Ok((Arc::new(key) as Dyn, Arc::new(value) as Dyn))
        },
    );
    Kind::Source {
        topics: vec![topic.to_string()],
        internal: true,
        decoder,
        types: (TypeId::of::<Option<Vec<u8>>>(), TypeId::of::<Vec<u8>>()),
    }
}

/// The pseudo-topic names Kafka serializes a join's keys and values for: `<app>-<topic>-<x>`.
fn pseudo(ctx: &dyn Context, topic: &str, what: &str) -> String {
    format!("{}-{topic}-{what}", ctx.application_id())
}

/// The left table's changes to subscriptions: unsubscribe from a foreign key the row left,
/// subscribe to the one it has (Kafka's `SubscriptionSendProcessorSupplier`).
fn send_node<K, V, KO, VO>(
    extractor: Extractor<K, V, KO>,
    serdes: Serdes<K, V, KO, VO>,
    registration: String,
    left: bool,
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    KO: Send + Sync + 'static,
    VO: Send + Sync + 'static,
{
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let key = typed::<K>(&r.key)?;
        let (new, old) = typed::<Change>(&r.value)?.values::<V>()?;
        if new.is_none() && old.is_none() {
            return Ok(());
        }
        let fk_topic = pseudo(&*ctx, &registration, "fk");
        let foreign = |v: Option<&V>| -> Result<Option<Vec<u8>>, StreamsError> {
            match v.and_then(|v| extractor(key, v)) {
                Some(fk) => to_bytes(&serdes.foreign_key, "key", &fk_topic, &fk),
                None => Ok(None),
            }
        };
        let (new_fk, old_fk) = (foreign(new)?, foreign(old)?);
        let hash = match new {
            Some(v) => {
                let bytes = to_bytes(
                    &serdes.value,
                    "value",
                    &pseudo(&*ctx, &registration, "vh"),
                    v,
                )?;
                Some(wire::hash(bytes.as_deref().unwrap_or_default()))
            }
            None => None,
        };
        let primary_key = to_bytes(&serdes.key, "key", &pseudo(&*ctx, &registration, "pk"), key)?
            .unwrap_or_default();
        let partition = ctx.task_id().partition;
        let mut sends: Vec<(Option<Vec<u8>>, Instruction)> = Vec::new();
        if left {
            if old_fk.is_some() && old_fk != new_fk {
                sends.push((old_fk, Instruction::DeleteKeyNoPropagate));
            }
            sends.push((new_fk, Instruction::PropagateNullIfNoFkValAvailable));
        } else if new.is_some() {
            match (new_fk, old_fk) {
                (None, Some(old_fk)) => {
                    sends.push((Some(old_fk), Instruction::DeleteKeyAndPropagate));
                }
                (None, None) => {}
                (Some(new_fk), Some(old_fk)) if new_fk != old_fk => {
                    sends.push((Some(old_fk), Instruction::DeleteKeyNoPropagate));
                    sends.push((Some(new_fk), Instruction::PropagateNullIfNoFkValAvailable));
                }
                (Some(new_fk), _) => {
                    sends.push((Some(new_fk), Instruction::PropagateOnlyIfFkValAvailable));
                }
            }
        } else if old_fk.is_some() {
            sends.push((old_fk, Instruction::DeleteKeyAndPropagate));
        }
        for (foreign_key, instruction) in sends {
            let subscription = Subscription {
                hash,
                instruction,
                primary_key: primary_key.clone(),
                partition,
            };
            ctx.forward(DynRecord {
                key: Arc::new(foreign_key),
                value: Arc::new(subscription.encode()),
                timestamp: r.timestamp,
                headers: Arc::clone(&r.headers),
            })?;
        }
        Ok(())
    })
}

/// Writes subscriptions (key: the foreign key's bytes, null for none) to the registration
/// topic; the producer places them by key.
fn registration_sink_node(base: String) -> NodeFactory {
    stateful(move || {
        let base = base.clone();
        let mut topic: Option<Arc<str>> = None;
        move |r: DynRecord, ctx: &mut dyn Context| {
            let topic = topic
                .get_or_insert_with(|| format!("{}-{base}", ctx.application_id()).into())
                .clone();
            ctx.produce(OutputRecord {
                topic,
                partition: None,
                key: typed::<Option<Vec<u8>>>(&r.key)?.clone(),
                value: Some(typed::<Vec<u8>>(&r.value)?.clone()),
                timestamp: r.timestamp,
                headers: r.headers.as_ref().clone(),
            });
            Ok(())
        }
    })
}

/// Keeps (or forgets) each subscription by foreign and primary key, and passes it on to be
/// answered (Kafka's `SubscriptionReceiveProcessorSupplier`).
fn receive_node(store: usize) -> NodeFactory {
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let bytes = typed::<Vec<u8>>(&r.value)?;
        let subscription = Subscription::decode(bytes)?;
        let foreign_key = typed::<Option<Vec<u8>>>(&r.key)?;
        match foreign_key {
            // a left row without a foreign key: answered with no foreign value, not kept
            None if subscription.instruction != Instruction::PropagateNullIfNoFkValAvailable => {
                return Ok(())
            }
            None => {}
            Some(fk) => {
                let key = combined_key(fk, &subscription.primary_key);
                if subscription.instruction.deletes() {
                    ctx.put(store, &key, None, r.timestamp)?;
                } else {
                    let stored = with_timestamp(r.timestamp, bytes);
                    ctx.put(store, &key, Some(&stored), r.timestamp)?;
                }
            }
        }
        ctx.forward(DynRecord {
            key: Arc::clone(&r.key),
            value: Arc::new(subscription),
            timestamp: r.timestamp,
            headers: r.headers,
        })
    })
}

/// Answers a subscription with the right table's row of its foreign key, as its instruction
/// says (Kafka's `SubscriptionJoinProcessorSupplier`).
fn lookup_node<K, V, KO, VO>(
    getter: Getter<KO, VO>,
    serdes: Serdes<K, V, KO, VO>,
    (registration, response): (String, String),
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    KO: Send + Sync + 'static,
    VO: Send + Sync + 'static,
{
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let subscription = typed::<Subscription>(&r.value)?;
        if subscription.instruction == Instruction::DeleteKeyNoPropagate {
            return Ok(());
        }
        let found = match typed::<Option<Vec<u8>>>(&r.key)? {
            Some(bytes) => {
                let topic = pseudo(&*ctx, &registration, "fk");
                let fk = from_bytes(&serdes.foreign_key, "key", &topic, Some(bytes))?;
                getter(&*ctx, &fk)?
            }
            None => None,
        };
        let timestamp = found
            .as_ref()
            .map_or(r.timestamp, |(_, t)| r.timestamp.max(*t));
        let value = match (subscription.instruction, &found) {
            (Instruction::PropagateOnlyIfFkValAvailable, None) => return Ok(()),
            (Instruction::DeleteKeyAndPropagate, _) | (_, None) => None,
            (_, Some((v, _))) => {
                let topic = format!("{}-{response}", ctx.application_id());
                to_bytes(&serdes.foreign_value, "value", &topic, v)?
            }
        };
        ctx.forward(DynRecord {
            key: Arc::new(subscription.primary_key.clone()),
            value: Arc::new(Response {
                hash: subscription.hash,
                value,
                partition: subscription.partition,
            }),
            timestamp,
            headers: r.headers,
        })
    })
}

/// The key just after every key starting with `prefix` (none when it is all 0xff).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Answers every subscriber of a right row when it changes, at the change's time (Kafka's
/// `ForeignTableJoinProcessorSupplier`).
fn fan_out_node<KO, VO>(
    store: usize,
    foreign_key: SharedSerde<KO>,
    foreign_value: SharedSerde<VO>,
    (registration, response): (String, String),
) -> NodeFactory
where
    KO: Send + Sync + 'static,
    VO: Send + Sync + 'static,
{
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let key = typed::<KO>(&r.key)?;
        let fk_topic = pseudo(&*ctx, &registration, "fk");
        let Some(fk) = to_bytes(&foreign_key, "key", &fk_topic, key)? else {
            return Ok(());
        };
        let (new, _) = typed::<Change>(&r.value)?.values::<VO>()?;
        let value = match new {
            Some(v) => {
                let topic = format!("{}-{response}", ctx.application_id());
                to_bytes(&foreign_value, "value", &topic, v)?
            }
            None => None,
        };
        let start = prefix(&fk);
        let end = prefix_end(&start);
        let subscribers: Vec<(Vec<u8>, Vec<u8>)> = ctx
            .store(store)?
            .range(Some(&start), end.as_deref())
            .into_iter()
            .filter(|(k, _)| k.starts_with(&start))
            .collect();
        for (k, stored) in subscribers {
            let (_, bytes) = split_timestamp(&stored).ok_or_else(|| {
                StreamsError::Kafka("a subscription without its timestamp".into())
            })?;
            let subscription = Subscription::decode(bytes)?;
            ctx.forward(DynRecord {
                key: Arc::new(k[start.len()..].to_vec()),
                value: Arc::new(Response {
                    hash: subscription.hash,
                    value: value.clone(),
                    partition: subscription.partition,
                }),
                timestamp: r.timestamp,
                headers: Arc::clone(&r.headers),
            })?;
        }
        Ok(())
    })
}

/// Writes answers to the response topic, each to the partition of the row that subscribed.
fn response_sink_node(base: String) -> NodeFactory {
    stateful(move || {
        let base = base.clone();
        let mut topic: Option<Arc<str>> = None;
        move |r: DynRecord, ctx: &mut dyn Context| {
            let topic = topic
                .get_or_insert_with(|| format!("{}-{base}", ctx.application_id()).into())
                .clone();
            let response = typed::<Response>(&r.value)?;
            ctx.produce(OutputRecord {
                topic,
                partition: (response.partition >= 0).then_some(response.partition),
                key: Some(typed::<Vec<u8>>(&r.key)?.clone()),
                value: Some(response.encode()),
                timestamp: r.timestamp,
                headers: r.headers.as_ref().clone(),
            });
            Ok(())
        }
    })
}

/// Joins each answer with its row's current value, unless the row changed since it
/// subscribed (Kafka's `ResponseJoinProcessorSupplier`): the result, or a deletion.
fn resolver_node<K, V, KO, VO, VR>(
    getter: Getter<K, V>,
    serdes: Serdes<K, V, KO, VO>,
    joiner: FkJoiner<V, VO, VR>,
    left: bool,
    (registration, response): (String, String),
) -> NodeFactory
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    KO: Send + Sync + 'static,
    VO: Send + Sync + 'static,
    VR: Send + Sync + 'static,
{
    stateless(move |r: DynRecord, ctx: &mut dyn Context| {
        let Some(pk) = typed::<Option<Vec<u8>>>(&r.key)? else {
            return Ok(());
        };
        let (hash, value) = Response::decode(typed::<Vec<u8>>(&r.value)?)?;
        let response_topic = format!("{}-{response}", ctx.application_id());
        let key: K = from_bytes(&serdes.key, "key", &response_topic, Some(pk))?;
        let current = getter(&*ctx, &key)?;
        let current_hash = match &current {
            Some((v, _)) => {
                let bytes = to_bytes(
                    &serdes.value,
                    "value",
                    &pseudo(&*ctx, &registration, "vh"),
                    v,
                )?;
                Some(wire::hash(bytes.as_deref().unwrap_or_default()))
            }
            None => None,
        };
        // an answer to a value the row no longer has
        if current_hash != hash {
            return Ok(());
        }
        let foreign: Option<VO> = match value {
            Some(bytes) => Some(from_bytes(
                &serdes.foreign_value,
                "value",
                &response_topic,
                Some(&bytes),
            )?),
            None => None,
        };
        let result: Option<VR> = match (&current, &foreign) {
            (Some((v, _)), Some(o)) => Some(joiner(v, Some(o))),
            (Some((v, _)), None) if left => Some(joiner(v, None)),
            _ => None,
        };
        ctx.forward(DynRecord {
            key: Arc::new(key),
            value: Arc::new(result),
            timestamp: r.timestamp,
            headers: r.headers,
        })
    })
}
