//! The node that runs a user's [`Processor`] (or [`FixedKeyProcessor`]) in a task.

use std::marker::PhantomData;
use std::sync::Arc;

use super::{
    ConnectedStore, FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord, Processor,
    ProcessorContext, Record, Schedule,
};
use crate::processor::{Context, Dyn, DynRecord, Node, NodeFactory, StreamsError};

/// A processor as a node runs it: records in as they travel, a context over the task.
pub(crate) trait Runner<KOut, VOut>: Send {
    fn init(&mut self, ctx: ProcessorContext<'_, KOut, VOut>) -> Result<(), StreamsError>;
    fn process(
        &mut self,
        record: DynRecord,
        ctx: ProcessorContext<'_, KOut, VOut>,
    ) -> Result<(), StreamsError>;
    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        ctx: ProcessorContext<'_, KOut, VOut>,
    ) -> Result<(), StreamsError>;
    fn close(&mut self);
}

/// Makes each task's node of processor `name`: the runner `make` gives, with the stores it
/// was connected to.
pub(crate) fn processor_node<R, KOut, VOut>(
    make: impl Fn() -> R + Send + Sync + 'static,
    name: String,
    stores: Vec<ConnectedStore>,
) -> NodeFactory
where
    R: Runner<KOut, VOut> + 'static,
    KOut: Send + Sync + 'static,
    VOut: Send + Sync + 'static,
{
    let info = Arc::new(Info { name, stores });
    Arc::new(move || {
        Box::new(ProcessorNode {
            runner: make(),
            info: Arc::clone(&info),
            _types: PhantomData::<fn() -> (KOut, VOut)>,
        }) as Box<dyn Node>
    })
}

/// A [`Processor`] as a runner.
pub(crate) struct Plain<P, KIn, VIn> {
    pub processor: P,
    pub _types: PhantomData<fn(KIn, VIn)>,
}

/// A [`FixedKeyProcessor`] as a runner.
pub(crate) struct Fixed<P, VIn> {
    pub processor: P,
    pub _types: PhantomData<fn(VIn)>,
}

struct Info {
    name: String,
    stores: Vec<ConnectedStore>,
}

struct ProcessorNode<R, KOut, VOut> {
    runner: R,
    info: Arc<Info>,
    _types: PhantomData<fn() -> (KOut, VOut)>,
}

/// A key or value taken out of its shared box: moved when this node holds the only
/// reference (a record going down one branch), else cloned.
fn owned<T: Clone + Send + Sync + 'static>(value: Dyn) -> Result<T, StreamsError> {
    shared::<T>(value).map(|s| Arc::try_unwrap(s).unwrap_or_else(|s| (*s).clone()))
}

/// A key or value as its type, still shared.
fn shared<T: Send + Sync + 'static>(value: Dyn) -> Result<Arc<T>, StreamsError> {
    value.downcast::<T>().map_err(|_| {
        StreamsError::Topology(format!(
            "a processor expected a {} between processors",
            std::any::type_name::<T>()
        ))
    })
}

/// Headers taken out of their shared box (moved when not shared).
fn unshared(headers: Arc<Vec<crate::processor::Header>>) -> Vec<crate::processor::Header> {
    Arc::try_unwrap(headers).unwrap_or_else(|h| (*h).clone())
}

impl<R, KOut, VOut> ProcessorNode<R, KOut, VOut> {
    /// The runner and a processor context over `ctx`, changelog records at `timestamp`.
    fn parts<'a>(
        &'a mut self,
        ctx: &'a mut dyn Context,
        timestamp: i64,
    ) -> (&'a mut R, ProcessorContext<'a, KOut, VOut>) {
        let info: &Info = &self.info;
        (
            &mut self.runner,
            ProcessorContext {
                inner: ctx,
                node: &info.name,
                stores: &info.stores,
                timestamp,
                _types: PhantomData,
            },
        )
    }
}

impl<R, KOut, VOut> Node for ProcessorNode<R, KOut, VOut>
where
    R: Runner<KOut, VOut>,
    KOut: Send + Sync + 'static,
    VOut: Send + Sync + 'static,
{
    fn process(&mut self, record: DynRecord, ctx: &mut dyn Context) -> Result<(), StreamsError> {
        let (runner, pc) = self.parts(ctx, record.timestamp);
        runner.process(record, pc)
    }

    fn init(&mut self, ctx: &mut dyn Context) -> Result<(), StreamsError> {
        // (what a store logs here gets timestamp 0, as in Kafka, where no record is at hand)
        let (runner, pc) = self.parts(ctx, 0);
        runner.init(pc)
    }

    fn punctuate(
        &mut self,
        schedule: u64,
        timestamp: i64,
        ctx: &mut dyn Context,
    ) -> Result<(), StreamsError> {
        let (runner, pc) = self.parts(ctx, timestamp);
        runner.punctuate(Schedule(schedule), timestamp, pc)
    }

    fn close(&mut self) {
        self.runner.close();
    }
}

impl<P, KIn, VIn, KOut, VOut> Runner<KOut, VOut> for Plain<P, KIn, VIn>
where
    P: Processor<KIn, VIn, KOut, VOut>,
    KIn: Clone + Send + Sync + 'static,
    VIn: Clone + Send + Sync + 'static,
    KOut: Send + Sync + 'static,
    VOut: Send + Sync + 'static,
{
    fn init(&mut self, mut ctx: ProcessorContext<'_, KOut, VOut>) -> Result<(), StreamsError> {
        self.processor.init(&mut ctx)
    }

    fn process(
        &mut self,
        record: DynRecord,
        mut ctx: ProcessorContext<'_, KOut, VOut>,
    ) -> Result<(), StreamsError> {
        let DynRecord {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let record = Record {
            key: owned::<KIn>(key)?,
            value: owned::<VIn>(value)?,
            timestamp,
            headers: unshared(headers),
        };
        self.processor.process(record, &mut ctx)
    }

    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        mut ctx: ProcessorContext<'_, KOut, VOut>,
    ) -> Result<(), StreamsError> {
        self.processor.punctuate(schedule, timestamp, &mut ctx)
    }

    fn close(&mut self) {
        self.processor.close();
    }
}

impl<P, K, VIn, VOut> Runner<K, VOut> for Fixed<P, VIn>
where
    P: FixedKeyProcessor<K, VIn, VOut>,
    K: Send + Sync + 'static,
    VIn: Clone + Send + Sync + 'static,
    VOut: Send + Sync + 'static,
{
    fn init(&mut self, ctx: ProcessorContext<'_, K, VOut>) -> Result<(), StreamsError> {
        self.processor
            .init(&mut FixedKeyProcessorContext { inner: ctx })
    }

    fn process(
        &mut self,
        record: DynRecord,
        ctx: ProcessorContext<'_, K, VOut>,
    ) -> Result<(), StreamsError> {
        let DynRecord {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let record = FixedKeyRecord {
            key: shared::<K>(key)?,
            value: owned::<VIn>(value)?,
            timestamp,
            headers: unshared(headers),
        };
        self.processor
            .process(record, &mut FixedKeyProcessorContext { inner: ctx })
    }

    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        ctx: ProcessorContext<'_, K, VOut>,
    ) -> Result<(), StreamsError> {
        self.processor.punctuate(
            schedule,
            timestamp,
            &mut FixedKeyProcessorContext { inner: ctx },
        )
    }

    fn close(&mut self) {
        self.processor.close();
    }
}
